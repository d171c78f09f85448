"""The file store's writer: one thread that runs every write, in batches.

Writes from the event loop become *ops* (functions of a ``Batch``) queued here. The
thread takes everything queued, runs the ops one after another (each either applies
whole or raises), then — in ``full`` durability — fsyncs each directory the batch
touched once, and only then wakes the loop with one ``call_soon_threadsafe`` for the
whole batch. So an awaited write is on disk before anyone hears of it, and a burst of
writes pays for one wake-up and one fsync per directory instead of one each.

An op that fails fails only its own future. If a directory fsync fails, the ops of the
batch did happen (the files were renamed) but may not survive a power loss: their
futures fail with ``NotDurable``, which carries the op's value so the caller can keep
its in-memory view in step with the disk. If the thread ever dies, waiting futures
fail, and the next ``submit`` fails with ``StorageUnavailable`` and starts a new one.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from seqd.builtin.fs_files import Batch, fsync_dir
from seqd.errors import StorageUnavailable

logger = logging.getLogger(__name__)

T = TypeVar("T")
Op = Callable[[Batch], Any]
_Item = tuple[Op, "asyncio.Future[Any]"]
_Outcome = tuple["asyncio.Future[Any]", Any, bool]  # (future, value or exception, ok)

MAX_BATCH = 1024


class NotDurable(StorageUnavailable):
    """The op happened, but syncing it to disk failed; ``value`` is what it returned."""

    def __init__(self, message: str, details: dict[str, Any], value: Any) -> None:
        super().__init__(message, details)
        self.value = value


def _resolve(outcomes: list[_Outcome]) -> None:
    for fut, value, ok in outcomes:
        if fut.done():
            continue
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(value)


class FileWriter:
    """Owns the writing thread; ``submit`` from the event loop, ``close`` to flush."""

    def __init__(
        self,
        location: str,
        durable: bool,
        on_os_error: Callable[[OSError], StorageUnavailable],
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.location = location
        self.durable = durable
        self._on_os_error = on_os_error
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._dead: str | None = None
        self._inflight: list[_Item] = []
        self._thread: threading.Thread | None = None
        self.batches = 0
        """Batches run (for tests and metrics)."""

    def start(self) -> None:
        with self._lock:
            self._start_locked()

    def _start_locked(self) -> None:
        self._dead = None
        self._queue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="seqd-fs-writer", daemon=True)
        self._thread.start()

    def submit(self, op: Callable[[Batch], T]) -> asyncio.Future[T]:
        """Queue ``op``; the future resolves once it (and its batch's syncs) are done."""
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        with self._lock:
            if self._closed:
                raise StorageUnavailable(
                    f"file storage at {self.location} is closed", {"location": self.location}
                )
            if self._dead is not None or self._thread is None:
                reason = self._dead or "it was never started"
                self._start_locked()
                raise StorageUnavailable(
                    f"file storage writer for {self.location} had stopped ({reason}); restarted it",
                    {"location": self.location},
                )
            self._queue.put((op, fut))
        return fut

    async def close(self) -> None:
        """Run everything queued so far, then stop the thread."""
        with self._lock:
            thread = self._thread
            if not self._closed:
                self._closed = True
                self._queue.put(None)
        if thread is not None:
            await asyncio.to_thread(thread.join)

    # -- the thread ----------------------------------------------------------------

    def _run(self) -> None:
        reason = "it stopped"
        try:
            while True:
                stop = self._take()
                if self._inflight:
                    self._execute(self._inflight)
                    self._inflight = []
                if stop:
                    reason = "it was closed"
                    return
        except BaseException as exc:  # even SystemExit: the loop side must hear of it
            reason = f"{type(exc).__name__}: {exc}"
            logger.exception("file storage writer for %s died", self.location)
        finally:
            self._die(reason)

    def _take(self) -> bool:
        """Fill ``_inflight`` with what is queued (waiting for the first); True on stop."""
        item = self._queue.get()
        while item is not None:
            self._inflight.append(item)
            if len(self._inflight) >= self._max_batch:
                return False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return False
        return True

    def _execute(self, items: list[_Item]) -> None:
        self.batches += 1
        batch = Batch(self.durable)
        outcomes: list[_Outcome] = []
        for op, fut in items:
            try:
                outcomes.append((fut, op(batch), True))
            except OSError as exc:
                outcomes.append((fut, self._on_os_error(exc), False))
            except Exception as exc:
                logger.exception("file storage write failed on %s", self.location)
                outcomes.append((fut, exc, False))
        for directory in sorted(batch.dirs):
            try:
                fsync_dir(directory)
            except OSError as exc:
                error = self._on_os_error(exc)
                logger.warning("file storage could not sync %s: %s", directory, exc)
                outcomes = [
                    (fut, NotDurable(error.message, error.details, value), False) if ok else
                    (fut, value, ok)
                    for fut, value, ok in outcomes
                ]  # fmt: skip
                break
        self._deliver(outcomes)

    def _deliver(self, outcomes: list[_Outcome]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
        for outcome in outcomes:
            by_loop.setdefault(outcome[0].get_loop(), []).append(outcome)
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve, items)
            except RuntimeError:
                pass  # that loop is closed: nobody is waiting any more

    def _die(self, reason: str) -> None:
        """Fail every op not yet answered, so no caller waits forever."""
        with self._lock:
            self._dead = reason
            pending = self._inflight
            self._inflight = []
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    pending.append(item)
        message = f"file storage writer for {self.location} stopped ({reason})"
        error = StorageUnavailable(message, {"location": self.location})
        self._deliver([(fut, error, False) for _, fut in pending])
