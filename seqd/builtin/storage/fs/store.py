"""The file store's shared machinery: its state on the loop, its threads, its lock.

Its own module because runs, logs, journals and key-value state all go through the same
few steps, which are the store's guarantees rather than any one call's: a write needs
the store's lock file (taken over from a process that held it, with a fresh scan); it
runs as its own task, so a cancelled caller never leaves the disk and the in-memory
view apart; it runs on the writer thread and its result is applied to the view on the
loop, also when its sync failed; and reads run on the reader threads, with I/O errors
reported as ``StorageUnavailable``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from seqd.builtin.storage.fs.files import LABEL, Batch, Layout, unavailable
from seqd.builtin.storage.fs.index import RunIndex
from seqd.builtin.storage.fs.locks import KeyedLocks
from seqd.builtin.storage.fs.logs import FORMATS, JOURNALS, LOGS
from seqd.builtin.storage.fs.scan import Inventory, SeqFiles, scan
from seqd.builtin.storage.fs.writer import FileWriter, NotDurable
from seqd.errors import StorageUnavailable
from seqd.plugins.storage import holder_text
from seqd.plugins.storage_kit import lockfile
from seqd.plugins.storage_kit.errors import not_open
from seqd.plugins.storage_kit.reader_pool import ReaderPool

logger = logging.getLogger(__name__)

T = TypeVar("T")


class FileStore:
    """One store under ``root``: what every part of the backend reads and writes through."""

    def __init__(self, root: str, durable: bool, read_threads: int) -> None:
        self.location = root
        self.layout = Layout(root)
        self.durable = durable
        self.index = RunIndex()
        self.files: SeqFiles = {fmt.suffix: {} for fmt in FORMATS}
        """Logs and journals, per suffix then run id (``scan.SeqFiles``)."""
        self.locks = KeyedLocks()
        """Held by the writes to one run (by its id) or one idempotency key."""
        self.writer: FileWriter | None = None
        self.readers = ReaderPool(read_threads, "seqd-fs-read", LABEL, root)
        self._lock_fd: int | None = None
        self._inflight: set[asyncio.Task[Any]] = set()
        self._closing = False

    # -- lifecycle -------------------------------------------------------------------

    async def claim(self) -> None:
        """Take the store's lock for this process before ``open`` (``StoreHeld`` if
        another process has it), so that the scan at open repairs."""
        if self.owns_store():
            return
        try:
            self._lock_fd = await asyncio.to_thread(self._claim)
        except OSError as exc:
            raise unavailable(exc, self.location) from exc

    def _claim(self) -> int:
        os.makedirs(self.location, exist_ok=True)
        return lockfile.claim(self.layout.lock, self.location)

    async def open(self) -> None:
        try:
            inventory = await asyncio.to_thread(self._lock_and_scan, False)
        except OSError as exc:
            raise unavailable(exc, self.location) from exc
        self.index, self.files = inventory.index, inventory.files
        self.writer = FileWriter(self.location, self.durable, self.unavailable)
        self.writer.start()
        self.readers.start()
        logger.info(
            "file storage open at %s: %d runs, %d logs, %d journals, %d temp files "
            "removed, %d idempotency claims repaired, %d runs given an idempotency scope",
            self.location, len(self.index), len(self.files[LOGS.suffix]),
            len(self.files[JOURNALS.suffix]), inventory.temps_removed, inventory.claims_fixed,
            inventory.runs_scoped,
        )  # fmt: skip

    def _lock_and_scan(self, must_write: bool) -> Inventory:
        """Take the store's lock and scan the store, repairing it (in a thread). If
        another process holds the lock: refuse when ``must_write``, else scan without
        touching anything."""
        claimed = self._lock_fd
        if claimed is None:
            os.makedirs(self.location, exist_ok=True)
        fd = claimed if claimed is not None else lockfile.take(self.layout.lock)
        if fd is None:
            holder = lockfile.holder(self.layout.lock)
            if must_write:
                raise StorageUnavailable(
                    f"file storage at {self.location} is in use by another process "
                    f"({holder_text(holder)}); it is open here for reading only",
                    {"location": self.location, "holder": holder},
                )
            logger.warning(
                "file storage at %s is in use by another process (%s): open for reading "
                "only until that process lets go", self.location, holder_text(holder),
            )  # fmt: skip
            return scan(self.layout, self.durable, repair=False)
        try:
            inventory = scan(self.layout, self.durable)
        except BaseException:
            if claimed is None:
                os.close(fd)
            raise
        self._lock_fd = fd
        return inventory

    def owns_store(self) -> bool:
        """Whether this process holds the store's lock (and may write)."""
        return self._lock_fd is not None

    async def writable(self) -> None:
        """Writes need the store's lock. Opened while another process held it (say a
        daemon, while ``seqd export`` reads), take it over once that process is gone:
        scan again with repairs, so this process's view is whole and current."""
        if self.owns_store():
            return
        async with self.locks.hold("store:"):
            if self.owns_store():  # another write took it over meanwhile
                return
            try:
                inventory = await asyncio.to_thread(self._lock_and_scan, True)
            except OSError as exc:
                raise unavailable(exc, self.location) from exc
            self.index, self.files = inventory.index, inventory.files
            logger.info("file storage at %s: took over the lock; writable", self.location)

    async def close(self) -> None:
        self._closing = True
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)
        writer, self.writer = self.writer, None
        if writer is not None:
            await writer.close()
        await self.readers.close()
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)

    # -- errors ------------------------------------------------------------------------

    def unavailable(self, exc: OSError) -> StorageUnavailable:
        return unavailable(exc, self.location)

    def not_open(self) -> StorageUnavailable:
        return not_open(LABEL, self.location, self._closing)

    # -- writes and reads ----------------------------------------------------------------

    async def guard(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a write as its own task: a cancelled caller stops waiting, the write
        (and the index update after it) still finishes under the run's lock."""
        if self.writer is None or self._closing:
            coro.close()
            raise self.not_open()
        task = asyncio.get_running_loop().create_task(coro)
        self._inflight.add(task)
        task.add_done_callback(self._settled)
        return await asyncio.shield(task)

    def _settled(self, task: asyncio.Task[Any]) -> None:
        self._inflight.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: its caller may have stopped waiting

    async def commit(self, op: Callable[[Batch], T], apply: Callable[[T], None]) -> T:
        """Run ``op`` on the writer, then ``apply`` its result to the in-memory view —
        also when the op happened but its sync failed (the disk did change)."""
        if self.writer is None:
            raise self.not_open()
        try:
            value = await self.writer.submit(op)
        except NotDurable as exc:
            apply(exc.value)
            raise
        apply(value)
        return value

    async def read(self, fn: Callable[[], T]) -> T:
        """``fn()`` on a reader thread; a missing file is the caller's to handle."""
        try:
            return await self.readers.run(fn)
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise unavailable(exc, self.location) from exc
