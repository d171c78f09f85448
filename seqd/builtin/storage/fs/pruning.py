"""Retention on the file store: one batch found in the in-memory index, its trees'
files deleted by one writer op.

Its own module because a batch touches every part of the store at once: the index
finds the batch's runs and walks their trees, the run files say when each root
finished, and the removal must hold the lock of every run (and idempotency key) it
deletes, from the last check that the tree is finished to the index update, so that no
write to one of those runs slips in between. Space comes back as the files go.
"""

from __future__ import annotations

import logging
import os
from contextlib import AsyncExitStack
from functools import partial

from seqd.builtin.storage.fs.files import RUN_SUFFIX, Batch, read_file, remove
from seqd.builtin.storage.fs.index import RunMeta
from seqd.builtin.storage.fs.logs import FORMATS, JOURNALS, LOGS
from seqd.builtin.storage.fs.runs import KEY_LOCK
from seqd.builtin.storage.fs.store import FileStore
from seqd.model.retention import PruneBatch, PruneQuery
from seqd.plugins.storage_kit.pruning import (
    check_prune_query,
    cursor_of,
    finished_before,
    whole_trees,
)

logger = logging.getLogger(__name__)


async def prune(store: FileStore, query: PruneQuery) -> PruneBatch:
    """``StorageBackend.prune_runs`` on ``store``."""
    check_prune_query(query)
    store.readers.check()
    index = store.index
    examined = index.span(query.status, query.after, query.before_id, query.limit)
    cursor = cursor_of([m.id for m in examined], query)
    candidates = [
        m
        for m in examined
        if (query.task is None or m.task == query.task)
        and (m.parent_id is None or index.get(m.parent_id) is None)
    ]
    if not candidates:
        return PruneBatch(cursor=cursor)
    paths = [store.layout.run_file(m.task, m.id) for m in candidates]
    found = await store.read(partial(_read_all, paths))
    roots = [m.id for m, data in zip(candidates, found, strict=True) if data is not None
             and finished_before(data, query)]  # fmt: skip
    if not roots:
        return PruneBatch(cursor=cursor)
    if query.dry_run:
        metas = _doomed(store, roots)
        batch = _counted(store, metas)
        paths = [path for m in metas for path in _files(store, m)]
        batch.bytes_freed += await store.read(partial(_run_bytes, paths))
    else:
        batch = await store.guard(_remove(store, roots))
    batch.cursor = cursor
    return batch


def _doomed(store: FileStore, roots: list[str]) -> list[RunMeta]:
    """The runs of the whole trees among ``roots``, as the index has them now."""
    index = store.index
    rows = [
        (root, m.id, m.status)
        for root in roots
        if index.get(root) is not None
        for m in index.tree(root)
    ]
    return [index.meta[run_id] for run_id in whole_trees(rows)]


def _counted(store: FileStore, metas: list[RunMeta]) -> PruneBatch:
    """The batch for ``metas``, but the run files' sizes: the log and journal lines and
    bytes the store's view of each file gives."""
    logs, journals = store.files[LOGS.suffix], store.files[JOURNALS.suffix]
    batch = PruneBatch(removed=[m.id for m in metas])
    for m in metas:
        for files, field in ((logs, "log_lines"), (journals, "steps")):
            state = files.get(m.id)
            if state is not None:
                setattr(batch, field, getattr(batch, field) + state.last_seq)
                batch.bytes_freed += state.size
    return batch


def _files(store: FileStore, meta: RunMeta) -> list[str]:
    """The files of one run: its idempotency claim, log and journal, and last its run
    file (so that a run whose removal failed half-way is still there, whole or not)."""
    layout = store.layout
    paths: list[str] = []
    if meta.key is not None and store.index.keys.get(meta.key) == meta.id:
        paths.append(layout.key_file(meta.key))
    for fmt in FORMATS:
        state = store.files[fmt.suffix].get(meta.id)
        if state is not None:
            paths.append(layout.seq_file(fmt.suffix, state.task, meta.id))
    paths.append(layout.run_file(meta.task, meta.id))
    return paths


async def _remove(store: FileStore, roots: list[str]) -> PruneBatch:
    await store.writable()
    planned = _doomed(store, roots)
    async with AsyncExitStack() as held:
        # Sorted, runs before keys, as every writer takes them: no lock order cycle.
        for run_id in sorted(m.id for m in planned):
            await held.enter_async_context(store.locks.hold(run_id))
        for key in sorted({m.key for m in planned if m.key is not None}):
            await held.enter_async_context(store.locks.hold(KEY_LOCK + key))
        # Checked again under the locks; a tree that grew meanwhile waits for a later pass.
        locked = {m.id for m in planned}
        metas = [m for m in _doomed(store, roots) if m.id in locked]
        each = [_counted(store, [m]) for m in metas]
        groups = [_files(store, m) for m in metas]

        def forget(outcome: tuple[int, int]) -> None:
            gone = metas[: outcome[1]]
            store.index.remove(gone)
            for fmt in FORMATS:
                for m in gone:
                    store.files[fmt.suffix].pop(m.id, None)

        run_bytes, done = await store.commit(partial(_delete, groups), forget)
    batch = PruneBatch(bytes_freed=run_bytes)
    for one in each[:done]:
        batch.removed += one.removed
        batch.log_lines += one.log_lines
        batch.steps += one.steps
        batch.bytes_freed += one.bytes_freed
    return batch


def _read_all(paths: list[str]) -> list[bytes | None]:
    """Each file's bytes; None where it is missing (a reader thread)."""
    found: list[bytes | None] = []
    for path in paths:
        try:
            found.append(read_file(path))
        except FileNotFoundError:
            found.append(None)
    return found


def _run_bytes(paths: list[str]) -> int:
    """The run files' bytes among ``paths`` (logs and journals are counted from the
    store's view of them; a reader or the writer thread)."""
    total = 0
    for path in paths:
        if path.endswith(RUN_SUFFIX):
            try:
                total += os.stat(path).st_size
            except FileNotFoundError:
                pass
    return total


def _delete(groups: list[list[str]], batch: Batch) -> tuple[int, int]:
    """Unlink each run's files (a writer op): the run files' bytes that went, and how
    many runs went whole. A failure stops the batch there (raised if no run went)."""
    freed = 0
    for done, paths in enumerate(groups):
        size = _run_bytes(paths)
        try:
            for path in paths:
                remove(path, batch)
        except OSError as exc:
            if not done:
                raise
            logger.warning("file storage: pruning stopped at %s: %s", paths[-1], exc)
            return freed, done
        freed += size
    return freed, len(groups)
