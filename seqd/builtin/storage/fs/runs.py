"""The file store's run records: creating, replacing and reading run files, on the loop.

Its own module because a run write is more than a file write: it claims or releases an
idempotency key, moves the run's log and journal along when its task changes (a run's
files live in its task's folder), and keeps the in-memory index in step, all under the
run's lock so that a compare-and-set is atomic. Reads go through the index, and look
again once a run that was just moving has settled. The blocking halves are in ``ops``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AsyncExitStack
from functools import partial

from seqd.builtin.storage.fs import ops
from seqd.builtin.storage.fs.files import check_run_id, check_task, claim_name, is_run_id
from seqd.builtin.storage.fs.index import RunMeta
from seqd.builtin.storage.fs.logs import FORMATS, LogState
from seqd.builtin.storage.fs.store import FileStore
from seqd.errors import StorageUnavailable
from seqd.model.runs import Run, RunChange, RunPage, RunQuery, RunStatus
from seqd.plugins.storage_kit.batches import check_keys, id_taken, plan
from seqd.plugins.storage_kit.errors import key_taken, run_exists
from seqd.plugins.storage_kit.records import check_run_key, check_run_query

logger = logging.getLogger(__name__)

KEY_LOCK = "key:"  # lock names of idempotency keys (run ids are hex: they never clash)

Moves = list[tuple[str, str]]
"""(source, target) renames of a run's log and journal files."""


class RunFiles:
    """The runs of one ``FileStore``."""

    def __init__(self, store: FileStore) -> None:
        self.store = store

    # -- writes ------------------------------------------------------------------------

    async def create(self, run: Run) -> tuple[Run, int]:
        check_run_id(run.id)
        check_task(run.task)
        check_run_key(run)
        return await self.store.guard(self._create(run))

    async def _create(self, run: Run) -> tuple[Run, int]:
        store = self.store
        await store.writable()
        async with store.locks.hold(run.id):
            if store.index.get(run.id) is not None:
                raise run_exists(run.id)
            key = claim_name(run.idempotency_scope, run.idempotency_key)
            if key is None:
                return run, await self._insert(run)
            async with store.locks.hold(KEY_LOCK + key):
                owner = store.index.keys.get(key)
                if owner is None:
                    return run, await self._insert(run)
                return await self._holder(owner, run.idempotency_key), 0

    async def _holder(self, owner: str, key: str | None) -> Run:
        """The run ``owner`` that the index says holds idempotency key ``key``."""
        meta = self.store.index.get(owner)
        existing = await self._read_one(meta) if meta is not None else None
        if existing is None:
            raise StorageUnavailable(
                f"file storage: run {owner} holds idempotency key {key!r} but its file is missing",
                {"id": owner},
            )
        return existing

    def _meta(self, run: Run) -> RunMeta:
        """The index entry of a write of ``run`` about to be committed, with its change
        position (taken now: the writer commits in the order writes come)."""
        store = self.store
        key = claim_name(run.idempotency_scope, run.idempotency_key)
        position = store.index.changes.next()
        return store.index.make(
            run.id, run.task, run.status, run.parent_id, key, run.schedule, position
        )

    async def insert(self, run: Run) -> int:
        """Write the new ``run`` (its id and key checked free, under their locks)."""
        return await self._insert(run)

    async def _insert(self, run: Run) -> int:
        store = self.store
        # Log lines and journal entries written before the run existed wait in orphans/.
        moves, states = self._seq_moves(run.id, None, run.task)
        meta = self._meta(run)
        op = partial(
            ops.create,
            store.layout.run_file(run.task, run.id),
            ops.run_record(run, meta.change),
            store.layout.key_file(meta.key) if meta.key is not None else None,
            run.id,
            moves,
        )

        await store.commit(op, partial(self._placed, meta, states))
        return meta.change

    async def create_many(self, runs: Sequence[Run]) -> list[tuple[Run, int]]:
        for run in runs:
            check_run_id(run.id)
            check_task(run.task)
        keys = check_keys(runs)
        return await self.store.guard(self._create_many(runs, keys)) if runs else []

    async def _create_many(self, runs: Sequence[Run], keys: list[str]) -> list[tuple[Run, int]]:
        """Under the lock of every run and key of the batch (ids first, then keys, each
        in order: as ``_create`` takes them, so no two writers wait on each other)."""
        store = self.store
        await store.writable()
        claims = {
            run.idempotency_key: claim_name(run.idempotency_scope, run.idempotency_key)
            for run in runs
            if run.idempotency_key is not None
        }
        async with AsyncExitStack() as held:
            locks = sorted(KEY_LOCK + str(claims[key]) for key in keys)
            for name in [*sorted({run.id for run in runs}), *locks]:
                await held.enter_async_context(store.locks.hold(name))
            taken = {run.id for run in runs if store.index.get(run.id) is not None}
            if taken:
                raise id_taken(runs, taken)
            holders: dict[str, Run] = {}
            for key in keys:
                owner = store.index.keys.get(str(claims[key]))
                if owner is not None:
                    holders[key] = await self._holder(owner, key)
            answer, fresh = plan(runs, holders)
            written = await self._insert_many(fresh) if fresh else {}
            return [(run, written[run.id] if created else 0) for run, created in answer]

    async def _insert_many(self, runs: list[Run]) -> dict[str, int]:
        """Write ``runs`` as one batch; the change position of each, by id."""
        store, layout = self.store, self.store.layout
        placing: list[tuple[RunMeta, dict[str, LogState]]] = []
        new_runs: list[ops.NewRun] = []
        records: list[bytes] = []
        for run in runs:
            meta = self._meta(run)
            data = ops.run_record(run, meta.change)
            records.append(data)
            moves, states = self._seq_moves(run.id, None, run.task)
            placing.append((meta, states))
            key_path = layout.key_file(meta.key) if meta.key is not None else None
            new_runs.append((layout.run_file(run.task, run.id), data, key_path, run.id, moves))
        op = partial(
            ops.create_batch, layout.run_batch_file(runs[0].id), b"".join(records), new_runs
        )

        def placed(moved: list[str]) -> None:
            for meta, states in placing:
                self._placed(meta, states, moved)

        await store.commit(op, placed)
        return {meta.id: meta.change for meta, _ in placing}

    def _placed(self, meta: RunMeta, states: dict[str, LogState], moved: list[str]) -> None:
        """After a run file was written: index it, and note where its moved log and
        journal files (``_seq_moves``) now are."""
        self.store.index.put(meta)
        for target in moved:
            if target in states:
                states[target].task = meta.task

    def _seq_moves(
        self, run_id: str, old_task: str | None, task: str
    ) -> tuple[Moves, dict[str, LogState]]:
        """The (source, target) renames that bring the run's log and journal to
        ``task``'s folder — from wherever they are, else from ``old_task``'s — and the
        state of each file by its target, to follow a move that happened."""
        moves: Moves = []
        states: dict[str, LogState] = {}
        layout = self.store.layout
        for fmt in FORMATS:
            state = self.store.files[fmt.suffix].get(run_id)
            if state is None and old_task is None:
                continue
            source = layout.seq_file(
                fmt.suffix, state.task if state is not None else old_task, run_id
            )
            target = layout.seq_file(fmt.suffix, task, run_id)
            if source != target:
                moves.append((source, target))
                if state is not None:
                    states[target] = state
        return moves, states

    async def update(self, run: Run, expect: Sequence[RunStatus] | None) -> int:
        check_task(run.task)
        check_run_key(run)
        if not is_run_id(run.id):
            return 0
        expected = None if expect is None else tuple(expect)
        return await self.store.guard(self._update(run, expected))

    async def _update(self, run: Run, expect: tuple[RunStatus, ...] | None) -> int:
        store = self.store
        await store.writable()
        async with store.locks.hold(run.id):
            old = store.index.get(run.id)
            if old is None or (expect is not None and old.status not in expect):
                return 0
            key = claim_name(run.idempotency_scope, run.idempotency_key)
            if key is None or key == old.key:
                return await self._replace(run, old)
            async with store.locks.hold(KEY_LOCK + key):
                owner = store.index.keys.get(key)
                if owner is not None and owner != run.id:
                    raise key_taken(run.id, run.idempotency_key)
                return await self._replace(run, old)

    async def _replace(self, run: Run, old: RunMeta) -> int:
        store = self.store
        layout = store.layout
        moves: Moves = []
        states: dict[str, LogState] = {}
        old_path: str | None = None
        if old.task != run.task:
            old_path = layout.run_file(old.task, run.id)
            moves, states = self._seq_moves(run.id, old.task, run.task)
        meta = self._meta(run)
        key = meta.key
        op = partial(
            ops.replace,
            layout.run_file(run.task, run.id),
            ops.run_record(run, meta.change),
            run.id,
            layout.key_file(key) if key is not None and key != old.key else None,
            layout.key_file(old.key) if old.key is not None and old.key != key else None,
            old_path,
            moves,
        )

        await store.commit(op, partial(self._placed, meta, states))
        return meta.change

    # -- reads -------------------------------------------------------------------------

    def _path(self, meta: RunMeta) -> str:
        return self.store.layout.run_file(meta.task, meta.id)

    async def _read_one(self, meta: RunMeta) -> Run | None:
        return (await self.store.read(partial(ops.read_runs, [self._path(meta)])))[0]

    async def get(self, run_id: str) -> Run | None:
        if not is_run_id(run_id):
            return None
        meta = self.store.index.get(run_id)
        if meta is None:
            self.store.readers.check()
            return None
        run = await self._read_one(meta)
        return run if run is not None else await self._get_settled(run_id)

    async def _get_settled(self, run_id: str) -> Run | None:
        """A run file was missing: it may have just moved. Look again once the writes
        to that run are done (they hold its lock until the index follows the disk)."""
        async with self.store.locks.hold(run_id):
            meta = self.store.index.get(run_id)
            if meta is None:
                return None
            run = await self._read_one(meta)
        if run is None:
            logger.error("file storage: the file of run %s is missing: %s", run_id,
                         self._path(meta))  # fmt: skip
        return run

    async def _load(self, metas: list[RunMeta]) -> list[Run]:
        found = await self.store.read(partial(ops.read_runs, [self._path(m) for m in metas]))
        runs: list[Run] = []
        for meta, run in zip(metas, found, strict=True):
            if run is None:
                run = await self._get_settled(meta.id)
            if run is not None:
                runs.append(run)
        return runs

    async def page(self, query: RunQuery) -> RunPage:
        check_run_query(query)
        metas, cursor = self.store.index.page(query)
        return RunPage(runs=await self._load(metas), next_cursor=cursor)

    async def by_prefix(self, prefix: str, limit: int) -> list[Run]:
        if limit < 1:
            return []
        return await self._load(self.store.index.by_prefix(prefix, limit))

    async def children(self, run_ids: Sequence[str]) -> dict[str, int]:
        self.store.readers.check()
        return self.store.index.children(run_ids)

    async def counts(self) -> dict[str, int]:
        self.store.readers.check()
        return self.store.index.counts()

    async def unfinished(self) -> list[Run]:
        return await self._load(self.store.index.unfinished())

    async def changes(self, after: int, limit: int, root_id: str | None) -> list[RunChange]:
        """``run_changes``: the runs the change log lists after ``after``, read with the
        position kept in their files. A run written again since the log was read is left
        for a later call (it is listed again at its new position), so positions only
        ever grow from one answer to the next."""
        self.store.readers.check()
        if limit < 1:
            return []
        index = self.store.index
        metas = index.changes.after(
            after, limit, None if root_id is None else index.tree_ids(root_id)
        )
        found = await self.store.read(partial(ops.read_changes, [self._path(m) for m in metas]))
        changes: list[RunChange] = []
        for meta, change in zip(metas, found, strict=True):
            if change is not None and change.position == meta.change:
                changes.append(change)
        return changes

    def last_change(self) -> int:
        self.store.readers.check()
        return self.store.index.changes.applied
