"""The file store's scan at open: rebuild the in-memory view and repair crash leftovers.

Runs in a thread before the store accepts calls. It reads every run file (only the
fields the index needs are decoded; the reads overlap on a few threads), and with
``repair`` — only the process holding the store's lock may — it removes temp files a
crash left behind, puts each log and journal file next to its run (or under
``orphans/`` when no run has its id), cuts torn tails off them, finishes the batches
of runs a crash interrupted (``batches/``), and makes ``idempotency/`` agree with the
runs: a claim whose run was never written is removed, a run whose claim is missing
gets it back. Without ``repair`` (another process owns
the store) it only reads, taking a torn tail or a temp file as what they may be: a
write in progress. Anything it cannot read is logged and skipped, never fatal; only
I/O errors on the store abort it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import msgspec

from seqd.builtin.storage.fs.files import (
    RUN_SUFFIX,
    Batch,
    Layout,
    atomic_write,
    claim_name,
    fsync_dir,
    is_run_id,
    is_task_name,
    is_temp,
    make_dirs,
    move,
    read_file,
)
from seqd.builtin.storage.fs.index import RunIndex, RunMeta
from seqd.builtin.storage.fs.logs import FORMATS, LogState, recover
from seqd.builtin.storage.fs.ops import with_change
from seqd.errors import ValidationFailed
from seqd.model.runs import Run, RunStatus
from seqd.model.scopes import legacy_scope

logger = logging.getLogger(__name__)


class _Head(msgspec.Struct):
    """The part of a run file the index needs (the rest is skipped, not decoded)."""

    id: str
    task: str
    status: RunStatus
    parent_id: str | None = None
    idempotency_key: str | None = None
    schedule: str | None = None
    idempotency_scope: str | None = None
    submitted_by: int | None = None
    change: int = 0


_HEAD = msgspec.json.Decoder(_Head)
_RUN = msgspec.json.Decoder(Run)
_ENCODER = msgspec.json.Encoder()
_READERS = 8
_SLICE = 512
_SEQ_SUFFIXES = tuple(fmt.suffix for fmt in FORMATS)

SeqFiles = dict[str, dict[str, LogState]]
"""Per kind of seq file (its suffix: logs, journals), per run id, what the loop knows."""


def _seq_file(name: str) -> tuple[str, str] | None:
    """(suffix, run id) if ``name`` is a run's log or journal file."""
    for suffix in _SEQ_SUFFIXES:
        if name.endswith(suffix) and is_run_id(name[: -len(suffix)]):
            return suffix, name[: -len(suffix)]
    return None


def _read_or_none(path: str) -> bytes | None:
    try:
        return read_file(path)
    except FileNotFoundError:
        return None


@dataclass
class Inventory:
    index: RunIndex
    files: SeqFiles
    temps_removed: int = 0
    claims_fixed: int = 0
    runs_scoped: int = 0
    """Keyed runs from before idempotency scopes, given theirs."""


def _entries(path: str) -> Iterator[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            yield from it
    except FileNotFoundError:
        return


class _Scan:
    def __init__(
        self, layout: Layout, batch: Batch, pool: ThreadPoolExecutor, repair: bool
    ) -> None:
        self.layout = layout
        self.batch = batch
        self.pool = pool
        self.repair = repair
        self.index = RunIndex()
        self.runs: dict[str, tuple[RunMeta, str]] = {}  # id → (meta, path)
        # (suffix, run id) → [(task, path)]
        self.seq_paths: dict[tuple[str, str], list[tuple[str | None, str]]] = {}
        self.temps = 0
        self.claims_fixed = 0
        self.batched = 0
        """Runs of interrupted batches written by ``run_batches``."""
        self.scoped = 0

    def drop_temp(self, path: str) -> None:
        if not self.repair:
            return
        os.unlink(path)
        self.temps += 1
        self.batch.touched(os.path.dirname(path))

    def run_batches(self) -> None:
        """Finish the batches of runs a crash interrupted (``ops.create_batch``). A batch
        file is whole (renamed into place) and is the batch's commit point: each run it
        lists whose file is missing is written, then the batch file goes. Without
        ``repair`` they are left to the store's owner (which may be writing them now)."""
        for entry in _entries(self.layout.run_batches):
            if is_temp(entry.name):
                self.drop_temp(entry.path)
                continue
            if not self.repair:
                continue
            for line in read_file(entry.path).splitlines():
                try:
                    head = _HEAD.decode(line)
                    path = self.layout.run_file(head.task, head.id)
                except (msgspec.DecodeError, ValidationFailed) as exc:
                    logger.error("file storage: skipping a run of batch %s: %s", entry.path, exc)
                    continue
                if not os.path.exists(path):
                    atomic_write(path, line + b"\n", self.batch)
                    self.batched += 1
            os.unlink(entry.path)
            self.batch.touched(self.layout.run_batches)

    def tasks(self) -> None:
        found: list[tuple[str, str, str]] = []  # (task, run id, path)
        for task_dir in _entries(self.layout.tasks):
            if not task_dir.is_dir(follow_symlinks=False) or not is_task_name(task_dir.name):
                logger.warning("file storage: ignoring %s (not a task directory)", task_dir.path)
                continue
            for entry in _entries(os.path.join(task_dir.path, "runs")):
                name = entry.name
                if is_temp(name):
                    self.drop_temp(entry.path)
                elif name.endswith(RUN_SUFFIX) and is_run_id(name[: -len(RUN_SUFFIX)]):
                    found.append((task_dir.name, name[: -len(RUN_SUFFIX)], entry.path))
                elif (seq_file := _seq_file(name)) is not None:
                    self.seq(*seq_file, task_dir.name, entry.path)
        # Reads overlap on a few threads (a cold cache makes this I/O-bound); decoding
        # stays here. Slices keep the number of pending futures small.
        for i in range(0, len(found), _SLICE):
            part = found[i : i + _SLICE]
            for (task, run_id, path), data in zip(
                part, self.pool.map(_read_or_none, [p for _, _, p in part]), strict=True
            ):
                if data is not None:
                    self.run_file(task, run_id, path, data)

    def run_file(self, task: str, run_id: str, path: str, data: bytes) -> None:
        try:
            head = _HEAD.decode(data)
        except msgspec.DecodeError as exc:
            logger.error("file storage: skipping unreadable run file %s: %s", path, exc)
            return
        if head.id != run_id:
            logger.error("file storage: skipping %s: it holds run %s", path, head.id)
            return
        if head.task != task:
            logger.warning("file storage: %s says task %r; using its folder", path, head.task)
        key, scope = head.idempotency_key, head.idempotency_scope
        if key is not None and scope is None:
            scope = legacy_scope(key, head.parent_id, head.submitted_by)
            self.add_scope(path, data, scope, head.change)
        meta = self.index.make(
            run_id,
            task,
            head.status,
            head.parent_id,
            claim_name(scope, key),
            head.schedule,
            head.change,
        )
        seen = self.runs.get(run_id)
        if seen is not None:
            # A crash while a run moved to another task: the newer file wins.
            keep_seen = os.stat(seen[1]).st_mtime_ns > os.stat(path).st_mtime_ns
            older = path if keep_seen else seen[1]
            logger.warning("file storage: run %s is in two tasks; dropping %s", run_id, older)
            if self.repair:
                os.unlink(older)
                self.batch.touched(os.path.dirname(older))
            if keep_seen:
                return
        self.runs[run_id] = (meta, path)

    def add_scope(self, path: str, data: bytes, scope: str | None, change: int) -> None:
        """A keyed run from before idempotency scopes: give it the scope it had (the
        file store's migration, as the SQL stores' schema migration does)."""
        if not self.repair:
            return
        run = msgspec.structs.replace(_RUN.decode(data), idempotency_scope=scope)
        record = _ENCODER.encode(run)
        atomic_write(path, with_change(record, change) if change else record + b"\n", self.batch)
        self.scoped += 1

    def number(self) -> None:
        """Give the runs a seqd without change positions wrote the next positions, in
        id (creation) order; with ``repair``, write them into their files, so that they
        keep them."""
        last = max((meta.change for meta, _ in self.runs.values()), default=0)
        for run_id in sorted(self.runs):
            meta, path = self.runs[run_id]
            if meta.change > 0:
                continue
            last += 1
            self.runs[run_id] = (msgspec.structs.replace(meta, change=last), path)
            if self.repair:
                atomic_write(path, with_change(read_file(path), last), self.batch)

    def orphans(self) -> None:
        for entry in _entries(self.layout.orphans):
            if is_temp(entry.name):
                self.drop_temp(entry.path)
            elif (seq_file := _seq_file(entry.name)) is not None:
                self.seq(*seq_file, None, entry.path)

    def seq(self, suffix: str, run_id: str, task: str | None, path: str) -> None:
        self.seq_paths.setdefault((suffix, run_id), []).append((task, path))

    def seq_files(self) -> SeqFiles:
        """Put each log and journal where its run is, recover it, say what it holds."""
        homes: list[tuple[str, str, str | None, str]] = []  # (suffix, run id, task, path)
        for (suffix, run_id), found in self.seq_paths.items():
            meta = self.index.get(run_id)
            task = meta.task if meta else None
            home = self.layout.seq_file(suffix, task, run_id)
            paths = [path for _, path in found]
            if len(found) > 1:
                logger.warning("file storage: run %s has %s files %s; using %s", run_id, suffix,
                               paths, home if home in paths else paths[0])  # fmt: skip
            if home not in paths:
                if self.repair:
                    move(paths[0], home, self.batch)
                else:
                    task, home = found[0]
            homes.append((suffix, run_id, task, home))
        states: SeqFiles = {suffix: {} for suffix in _SEQ_SUFFIXES}
        recover_one = partial(recover, cut=self.repair)
        for i in range(0, len(homes), _SLICE):
            part = homes[i : i + _SLICE]
            for (suffix, run_id, task, _), (size, last_seq) in zip(
                part, self.pool.map(recover_one, [home[3] for home in part]), strict=True
            ):
                states[suffix][run_id] = LogState(task, last_seq, size)
        return states

    def claims(self) -> None:
        wanted: dict[str, str] = {}
        for key, run_id in self.index.keys.items():
            wanted[os.path.basename(self.layout.key_file(key))] = run_id
        for entry in _entries(self.layout.idempotency):
            if is_temp(entry.name):
                self.drop_temp(entry.path)
                continue
            owner = wanted.pop(entry.name, None)
            if owner is None:
                logger.info("file storage: removing stale idempotency claim %s", entry.path)
                os.unlink(entry.path)
                self.batch.touched(self.layout.idempotency)
                self.claims_fixed += 1
            elif read_file(entry.path) != owner.encode():
                atomic_write(entry.path, owner.encode(), self.batch)
                self.claims_fixed += 1
        for name, owner in wanted.items():
            atomic_write(os.path.join(self.layout.idempotency, name), owner.encode(), self.batch)
            self.claims_fixed += 1


def scan(layout: Layout, durable: bool, repair: bool = True) -> Inventory:
    """Build the index and the log and journal states of the store at ``layout`` (blocking)."""
    batch = Batch(durable)
    if repair:
        for path in (layout.tasks, layout.idempotency, layout.orphans):
            make_dirs(path, batch)
    with ThreadPoolExecutor(_READERS, thread_name_prefix="seqd-fs-scan") as pool:
        found = _Scan(layout, batch, pool, repair)
        found.run_batches()  # first: the runs they write are then scanned as any other
        found.tasks()
        found.number()
        # Oldest first, so if two runs claim one idempotency key the first one keeps it.
        found.index.load(meta for _, (meta, _) in sorted(found.runs.items()))
        found.orphans()
        files = found.seq_files()
        if repair:
            found.claims()
    for directory in sorted(batch.dirs):
        fsync_dir(directory)
    if found.batched:
        logger.warning("file storage: finished %d runs of interrupted batches", found.batched)
    return Inventory(found.index, files, found.temps, found.claims_fixed, found.scoped)
