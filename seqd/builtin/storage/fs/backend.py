"""The built-in file store (``storage = "fs"``): the original system's layout, made safe.

Each run is a JSON file under ``tasks/<task>/runs/``, its log and its journal JSON
Lines files next to it (layout, guarantees and limits: docs/storage-fs.md). Files are
replaced atomically (temp file + rename; with ``durability = "full"`` also fsynced,
file and directory); logs and journals are appended whole (``fs_logs``).

All file I/O runs off the loop: writes on one writer thread that batches them
(``fs_writer``), reads on a small thread pool. The index that answers lists, counts and
``get_run``'s "where is it" lives in memory (``fs_index``), rebuilt at open by a scan
(``fs_scan``) and updated on the loop after each write. Writes to one run hold that
run's asyncio lock from the check to the index update, so a compare-and-set is atomic;
each write runs as its own task, so a caller that is cancelled never leaves the disk
and the index apart. A lock file makes one process the writer: another process that
opens the store (``seqd export`` beside the daemon) only reads until it can take over.

Options, ``[backends.fs]``: ``root`` (default ``<state_dir>/files``; a relative path is
taken from the state dir).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Annotated, Any, TypeVar

import msgspec
from msgspec import Meta

from seqd import hookimpl
from seqd.builtin.storage.fs import kv as fs_kv
from seqd.builtin.storage.fs import logs as fs_logs
from seqd.builtin.storage.fs import ops as fs_ops
from seqd.builtin.storage.fs.files import (
    Batch,
    Layout,
    check_run_id,
    check_task,
    is_run_id,
    unavailable,
)
from seqd.builtin.storage.fs.index import RunIndex, RunMeta
from seqd.builtin.storage.fs.locks import KeyedLocks, lock_holder, lock_store
from seqd.builtin.storage.fs.logs import FORMATS, JOURNALS, LOGS, Format, LogState
from seqd.builtin.storage.fs.scan import Inventory, SeqFiles, scan
from seqd.builtin.storage.fs.writer import FileWriter, NotDurable
from seqd.errors import Conflict, StorageUnavailable, ValidationFailed
from seqd.model.runs import (
    KVEntry,
    LogLine,
    NewLogLine,
    NewStep,
    Run,
    RunPage,
    RunQuery,
    RunStatus,
    Step,
)
from seqd.model.timeutil import now
from seqd.plugins.storage import (
    StorageContext,
    StorageFactory,
    check_kv_name,
    kv_page,
    kv_start,
    path_in_state_dir,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
E = TypeVar("E")
N = TypeVar("N")

_ENCODER = msgspec.json.Encoder()
_DURABILITY = ("normal", "full")
_KEY = "key:"  # lock names of idempotency keys (run ids are hex: they never clash)


class FSOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    root: Annotated[str, Meta(min_length=1)] | None = None


def parse_options(options: dict[str, Any]) -> FSOptions:
    """Validate ``[backends.fs]``; the error names the offending field."""
    try:
        return msgspec.convert(options, FSOptions)
    except msgspec.ValidationError as exc:
        text = str(exc)
        found = re.search(r"at `\$\.([^`]+)`", text) or re.search(r"field `([^`]+)`", text)
        field = f"backends.fs.{found.group(1)}" if found else "backends.fs"
        raise ValidationFailed(f"{field}: {text}", {"field": field}) from None


class FSBackend:
    """``seqd.plugins.storage.StorageBackend`` on a directory tree of JSON files."""

    name = "fs"

    def __init__(self, root: str, durability: str = "normal", read_threads: int = 4) -> None:
        if durability not in _DURABILITY:
            raise ValidationFailed(
                f"durability must be one of {list(_DURABILITY)}, not {durability!r}",
                {"field": "durability"},
            )
        self.location = root
        self.layout = Layout(root)
        self.durable = durability == "full"
        self._read_threads = read_threads
        self._index = RunIndex()
        self._files: SeqFiles = {fmt.suffix: {} for fmt in FORMATS}
        """Logs and journals, per suffix then run id (``fs_scan.SeqFiles``)."""
        self._locks = KeyedLocks()
        self._writer: FileWriter | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._lock_fd: int | None = None
        self._inflight: set[asyncio.Task[Any]] = set()
        self._closing = False

    # -- lifecycle -------------------------------------------------------------------

    async def open(self) -> None:
        try:
            inventory = await asyncio.to_thread(self._lock_and_scan, False)
        except OSError as exc:
            raise unavailable(exc, self.location) from exc
        self._index, self._files = inventory.index, inventory.files
        self._writer = FileWriter(self.location, self.durable, self._unavailable)
        self._writer.start()
        self._readers = ThreadPoolExecutor(self._read_threads, thread_name_prefix="seqd-fs-read")
        logger.info(
            "file storage open at %s: %d runs, %d logs, %d journals, %d temp files "
            "removed, %d idempotency claims repaired",
            self.location, len(self._index), len(self._files[LOGS.suffix]),
            len(self._files[JOURNALS.suffix]), inventory.temps_removed, inventory.claims_fixed,
        )  # fmt: skip

    def _lock_and_scan(self, must_write: bool) -> Inventory:
        """Take the store's lock and scan the store, repairing it (in a thread). If
        another process holds the lock: refuse when ``must_write``, else scan without
        touching anything."""
        os.makedirs(self.location, exist_ok=True)
        fd = lock_store(self.layout.lock)
        if fd is None:
            holder = lock_holder(self.layout.lock)
            if must_write:
                raise StorageUnavailable(
                    f"file storage at {self.location} is in use by another process (pid "
                    f"{holder}); it is open here for reading only",
                    {"location": self.location, "holder": holder},
                )
            logger.warning(
                "file storage at %s is in use by process %s: open for reading only "
                "until that process lets go", self.location, holder,
            )  # fmt: skip
            return scan(self.layout, self.durable, repair=False)
        try:
            inventory = scan(self.layout, self.durable)
        except BaseException:
            os.close(fd)
            raise
        self._lock_fd = fd
        return inventory

    def owns_store(self) -> bool:
        """Whether this process holds the store's lock (and may write)."""
        return self._lock_fd is not None

    async def _writable(self) -> None:
        """Writes need the store's lock. Opened while another process held it (say a
        daemon, while ``seqd export`` reads), take it over once that process is gone:
        scan again with repairs, so this process's view is whole and current."""
        if self.owns_store():
            return
        async with self._locks.hold("store:"):
            if self.owns_store():  # another write took it over meanwhile
                return
            try:
                inventory = await asyncio.to_thread(self._lock_and_scan, True)
            except OSError as exc:
                raise unavailable(exc, self.location) from exc
            self._index, self._files = inventory.index, inventory.files
            logger.info("file storage at %s: took over the lock; writable", self.location)

    async def close(self) -> None:
        self._closing = True
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)
        writer, self._writer = self._writer, None
        if writer is not None:
            await writer.close()
        pool, self._readers = self._readers, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, True)
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)

    # -- plumbing --------------------------------------------------------------------

    def _unavailable(self, exc: OSError) -> StorageUnavailable:
        return unavailable(exc, self.location)

    def _not_open(self) -> StorageUnavailable:
        state = "closed" if self._closing else "not open"
        return StorageUnavailable(f"file storage at {self.location} is {state}")

    async def _guard(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a write as its own task: a cancelled caller stops waiting, the write
        (and the index update after it) still finishes under the run's lock."""
        if self._writer is None or self._closing:
            coro.close()
            raise self._not_open()
        task = asyncio.get_running_loop().create_task(coro)
        self._inflight.add(task)
        task.add_done_callback(self._settled)
        return await asyncio.shield(task)

    def _settled(self, task: asyncio.Task[Any]) -> None:
        self._inflight.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: its caller may have stopped waiting

    async def _commit(self, op: Callable[[Batch], T], apply: Callable[[T], None]) -> T:
        """Run ``op`` on the writer, then ``apply`` its result to the in-memory view —
        also when the op happened but its sync failed (the disk did change)."""
        if self._writer is None:
            raise self._not_open()
        try:
            value = await self._writer.submit(op)
        except NotDurable as exc:
            apply(exc.value)
            raise
        apply(value)
        return value

    async def _read(self, fn: Callable[[], T]) -> T:
        pool = self._readers
        if pool is None:
            raise self._not_open()
        try:
            result = asyncio.get_running_loop().run_in_executor(pool, fn)
        except RuntimeError as exc:  # the pool was shut down by close()
            raise self._not_open() from exc
        try:
            return await result
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise unavailable(exc, self.location) from exc

    def _path(self, meta: RunMeta) -> str:
        return self.layout.run_file(meta.task, meta.id)

    async def _read_one(self, meta: RunMeta) -> Run | None:
        return (await self._read(partial(fs_ops.read_runs, [self._path(meta)])))[0]

    # -- runs: writes ----------------------------------------------------------------

    async def create_run(self, run: Run) -> tuple[Run, bool]:
        check_run_id(run.id)
        check_task(run.task)
        return await self._guard(self._create(run))

    async def _create(self, run: Run) -> tuple[Run, bool]:
        await self._writable()
        async with self._locks.hold(run.id):
            if self._index.get(run.id) is not None:
                raise Conflict(f"run {run.id} already exists", {"id": run.id})
            key = run.idempotency_key
            if key is None:
                await self._insert(run)
                return run, True
            async with self._locks.hold(_KEY + key):
                owner = self._index.keys.get(key)
                if owner is None:
                    await self._insert(run)
                    return run, True
                meta = self._index.get(owner)
                existing = await self._read_one(meta) if meta is not None else None
                if existing is None:
                    raise StorageUnavailable(
                        f"file storage: run {owner} holds idempotency key {key!r} but its "
                        "file is missing",
                        {"id": owner},
                    )
                return existing, False

    async def _insert(self, run: Run) -> None:
        key = run.idempotency_key
        meta = self._index.make(run.id, run.task, run.status, run.parent_id, key)
        # Log lines and journal entries written before the run existed wait in orphans/.
        moves, states = self._seq_moves(run.id, None, run.task)
        op = partial(
            fs_ops.create,
            self.layout.run_file(run.task, run.id),
            _ENCODER.encode(run) + b"\n",
            self.layout.key_file(key) if key is not None else None,
            run.id,
            moves,
        )

        await self._commit(op, partial(self._placed, meta, states))

    def _placed(self, meta: RunMeta, states: dict[str, LogState], moved: list[str]) -> None:
        """After a run file was written: index it, and note where its moved log and
        journal files (``_seq_moves``) now are."""
        self._index.put(meta)
        for target in moved:
            if target in states:
                states[target].task = meta.task

    def _seq_moves(
        self, run_id: str, old_task: str | None, task: str
    ) -> tuple[list[tuple[str, str]], dict[str, LogState]]:
        """The (source, target) renames that bring the run's log and journal to
        ``task``'s folder — from wherever they are, else from ``old_task``'s — and the
        state of each file by its target, to follow a move that happened."""
        moves: list[tuple[str, str]] = []
        states: dict[str, LogState] = {}
        for fmt in FORMATS:
            state = self._files[fmt.suffix].get(run_id)
            if state is None and old_task is None:
                continue
            source = self.layout.seq_file(
                fmt.suffix, state.task if state is not None else old_task, run_id
            )
            target = self.layout.seq_file(fmt.suffix, task, run_id)
            if source != target:
                moves.append((source, target))
                if state is not None:
                    states[target] = state
        return moves, states

    async def update_run(self, run: Run, expect: Sequence[RunStatus] | None = None) -> bool:
        check_task(run.task)
        if not is_run_id(run.id):
            return False
        return await self._guard(self._update(run, None if expect is None else tuple(expect)))

    async def _update(self, run: Run, expect: tuple[RunStatus, ...] | None) -> bool:
        await self._writable()
        async with self._locks.hold(run.id):
            old = self._index.get(run.id)
            if old is None or (expect is not None and old.status not in expect):
                return False
            key = run.idempotency_key
            if key is None or key == old.key:
                await self._replace(run, old)
                return True
            async with self._locks.hold(_KEY + key):
                owner = self._index.keys.get(key)
                if owner is not None and owner != run.id:
                    raise Conflict(
                        f"idempotency key {key!r} belongs to another run",
                        {"id": run.id, "idempotency_key": key},
                    )
                await self._replace(run, old)
                return True

    async def _replace(self, run: Run, old: RunMeta) -> None:
        key, layout = run.idempotency_key, self.layout
        meta = self._index.make(run.id, run.task, run.status, run.parent_id, key)
        moves: list[tuple[str, str]] = []
        states: dict[str, LogState] = {}
        old_path: str | None = None
        if old.task != run.task:
            old_path = layout.run_file(old.task, run.id)
            moves, states = self._seq_moves(run.id, old.task, run.task)
        op = partial(
            fs_ops.replace,
            layout.run_file(run.task, run.id),
            _ENCODER.encode(run) + b"\n",
            run.id,
            layout.key_file(key) if key is not None and key != old.key else None,
            layout.key_file(old.key) if old.key is not None and old.key != key else None,
            old_path,
            moves,
        )

        await self._commit(op, partial(self._placed, meta, states))

    # -- runs: reads -----------------------------------------------------------------

    async def get_run(self, run_id: str) -> Run | None:
        if not is_run_id(run_id):
            return None
        meta = self._index.get(run_id)
        if meta is None:
            if self._readers is None:
                raise self._not_open()
            return None
        run = await self._read_one(meta)
        return run if run is not None else await self._get_settled(run_id)

    async def _get_settled(self, run_id: str) -> Run | None:
        """A run file was missing: it may have just moved. Look again once the writes
        to that run are done (they hold its lock until the index follows the disk)."""
        async with self._locks.hold(run_id):
            meta = self._index.get(run_id)
            if meta is None:
                return None
            run = await self._read_one(meta)
        if run is None:
            logger.error("file storage: the file of run %s is missing: %s", run_id,
                         self._path(meta))  # fmt: skip
        return run

    async def _load(self, metas: list[RunMeta]) -> list[Run]:
        found = await self._read(partial(fs_ops.read_runs, [self._path(m) for m in metas]))
        runs: list[Run] = []
        for meta, run in zip(metas, found, strict=True):
            if run is None:
                run = await self._get_settled(meta.id)
            if run is not None:
                runs.append(run)
        return runs

    async def list_runs(self, query: RunQuery) -> RunPage:
        if query.limit < 1:
            raise ValidationFailed("limit must be at least 1", {"field": "limit"})
        metas, cursor = self._index.page(query)
        return RunPage(runs=await self._load(metas), next_cursor=cursor)

    async def count_by_status(self) -> dict[str, int]:
        if self._readers is None:
            raise self._not_open()
        return self._index.counts()

    async def unfinished_runs(self) -> list[Run]:
        return await self._load(self._index.unfinished())

    # -- logs and journals ----------------------------------------------------------
    # Both are seq files (``fs_logs``): one append path and one read path serve them.

    async def append_logs(self, run_id: str, lines: Sequence[NewLogLine]) -> int:
        check_run_id(run_id)
        return await self._guard(self._append(LOGS, run_id, list(lines)))

    async def read_logs(self, run_id: str, after: int, limit: int) -> list[LogLine]:
        return await self._read_seq(LOGS, run_id, after, limit)

    async def append_steps(self, run_id: str, steps: Sequence[NewStep]) -> int:
        check_run_id(run_id)
        return await self._guard(self._append(JOURNALS, run_id, list(steps)))

    async def read_steps(self, run_id: str, after: int, limit: int) -> list[Step]:
        return await self._read_seq(JOURNALS, run_id, after, limit)

    async def _append(self, fmt: Format[Any, N], run_id: str, entries: list[N]) -> int:
        await self._writable()
        async with self._locks.hold(run_id):  # also keeps the file from moving meanwhile
            state = self._files[fmt.suffix].get(run_id)
            if not entries:
                return state.last_seq if state is not None else 0
            if state is None:
                meta = self._index.get(run_id)
                state = LogState(meta.task if meta else None)
            first = state.last_seq + 1
            last = first + len(entries) - 1
            data, marks = fs_logs.encode(fmt, first, entries)
            new = state

            def apply(span: tuple[int, int]) -> None:
                self._files[fmt.suffix].setdefault(run_id, new)
                new.appended(span[0], span[1], marks, last)

            path = self.layout.seq_file(fmt.suffix, state.task, run_id)
            await self._commit(partial(fs_logs.append, path, state.size, data), apply)
            return last

    async def _read_seq(self, fmt: Format[E, Any], run_id: str, after: int, limit: int) -> list[E]:
        if limit < 1 or not is_run_id(run_id):
            return []
        if self._readers is None:
            raise self._not_open()
        state = self._files[fmt.suffix].get(run_id)
        if state is None or after >= state.last_seq:
            return []
        for attempt in (1, 2):
            path = self.layout.seq_file(fmt.suffix, state.task, run_id)
            n_marks, indexed_to = len(state.marks), state.indexed_to
            fn = partial(
                fs_logs.read, fmt, path, state.size, state.marks, n_marks, indexed_to,
                max(after, 0), limit,
            )  # fmt: skip
            try:
                found = await self._read(fn)
            except FileNotFoundError:
                if attempt == 2:
                    logger.error("file storage: the %s of run %s is missing: %s", fmt.name,
                                 run_id, path)  # fmt: skip
                    return []
                async with self._locks.hold(run_id):  # it may be moving: let that finish
                    continue
            state.learned(n_marks, indexed_to, found)
            return found.lines
        return []

    # -- key-value state -------------------------------------------------------------

    async def kv_get(self, namespace: str, key: str) -> KVEntry | None:
        check_kv_name(namespace, key)
        return await self._read(partial(fs_kv.read, self.location, namespace, key))

    async def kv_set(self, namespace: str, key: str, value: Any) -> KVEntry:
        check_kv_name(namespace, key)
        _ENCODER.encode(value)  # refuse what is not JSON before queueing the write
        entry = KVEntry(namespace=namespace, key=key, value=value, updated_at=now())
        path = fs_kv.key_file(self.location, namespace, key)
        return await self._guard(self._kv_write(partial(fs_kv.write, path, entry), entry))

    async def kv_delete(self, namespace: str, key: str) -> bool:
        check_kv_name(namespace, key)
        path = fs_kv.key_file(self.location, namespace, key)
        return await self._guard(self._kv_write(partial(fs_kv.delete, path), None))

    async def _kv_write(self, op: Callable[[Batch], Any], result: Any) -> Any:
        await self._writable()
        value = await self._commit(op, lambda _v: None)
        return value if result is None else result

    async def kv_namespaces(self) -> list[str]:
        return await self._read(partial(fs_kv.namespaces, self.location))

    async def kv_list(
        self, namespace: str, prefix: str = "", after: str | None = None, limit: int = 100
    ) -> list[KVEntry]:
        check_kv_name(namespace)
        if limit < 1:
            return []
        entries = await self._read(partial(fs_kv.read_namespace, self.location, namespace))
        start, inclusive = kv_start(prefix, after)
        kept = [e for e in entries if e.key > start or (inclusive and e.key == start)]
        return kv_page(kept[:limit], prefix)


class FSStorageFactory:
    """Opens ``FSBackend`` from ``[backends.fs]``."""

    name = "fs"

    def create(self, options: dict[str, Any], context: StorageContext) -> FSBackend:
        opts = parse_options(options)
        return FSBackend(
            path_in_state_dir(context, opts.root, "files"),
            durability=context.durability,
        )


@hookimpl
def seqd_register_storage_backends(register: Callable[[StorageFactory], None]) -> None:
    register(FSStorageFactory())
