"""``StorageBackend`` on PostgreSQL: psycopg 3 async connections from a pool.

Reads borrow a pooled connection each. Writes go through one ``Writer`` that groups
the writes issued meanwhile into one pipelined transaction (group commit). Each write
is a single statement: a create is ``INSERT ... ON CONFLICT DO NOTHING``, a
compare-and-set is ``UPDATE ... WHERE status = ANY(...)``, and a log (or journal)
append bumps the run's counter and inserts all its lines (entries) in one statement.
The statements on the tables every SQL store has, and the reading of their rows, are
``seqd.plugins.storage_kit.sql``'s; ``queries`` holds what only PostgreSQL does, and
``pruning`` the transactions of retention, ``records`` the records beside runs. Several
daemons share the store as nodes (``cluster``: claims, leases, fencing); with
``cluster = false`` one daemon holds it alone (``claim``: a session advisory lock).

A call never waits forever. It waits for a connection at most ``pool_timeout_s``, the
server bounds each statement with ``statement_timeout_s``, and the client gives up a
little after both. Lost connections are replaced in the background, so the backend
comes back by itself with the server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pgerrors

from seqd.errors import Conflict, StorageUnavailable
from seqd.model.retention import PruneBatch, PruneQuery
from seqd.model.runs import NewLogLine, NewStep, Run, RunChange, RunPage, RunQuery, RunStatus
from seqd.model.status import UNFINISHED
from seqd.plugins.storage_kit import sql
from seqd.plugins.storage_kit.batches import check_keys, id_taken, key_scope, plan
from seqd.plugins.storage_kit.errors import key_taken, not_open, run_exists
from seqd.plugins.storage_kit.options import check_durability
from seqd.plugins.storage_kit.pruning import check_prune_query
from seqd.plugins.storage_kit.records import check_run_key, page_of
from seqd_postgres import imports, pruning
from seqd_postgres import queries as q
from seqd_postgres.claim import StoreClaim
from seqd_postgres.cluster import Cluster
from seqd_postgres.connections import Conn, Connections
from seqd_postgres.faults import LABEL, connection_lost, never_sent, translate
from seqd_postgres.options import PostgresOptions, redact_dsn
from seqd_postgres.records import UNSURE_FOR_S, Records
from seqd_postgres.schema import migrate
from seqd_postgres.writer import Writer

logger = logging.getLogger(__name__)

T = TypeVar("T")

_CLIENT_SLACK_S = 5.0


class _RolledBack(Exception):
    """Leaves a batch's transaction, rolling it back: a key or an id was taken meanwhile."""


class PostgresBackend(Records):
    """``seqd.plugins.storage.StorageBackend`` on one PostgreSQL schema, shareable by nodes."""

    name = "postgres"

    def __init__(self, dsn: str, options: PostgresOptions, durability: str = "normal") -> None:
        check_durability(durability)
        self.location = redact_dsn(dsn)
        self.schema = options.schema
        self.options = options
        self.connections = Connections(dsn, self.location, options, durability)
        self.claimed: StoreClaim | None = None
        self.writer: Writer | None = None
        self.shared: Cluster | None = None
        """The node's side of the shared queue (``cluster``), once open."""
        self._call_timeout = options.pool_timeout_s + options.statement_timeout_s + _CLIENT_SLACK_S
        self._open = False
        self._closing = False
        self._inflight = 0
        self._drained: asyncio.Event | None = None

    @property
    def last_error(self) -> str | None:
        """The last connection failure seen: the likely reason calls are failing."""
        return self.connections.last_error

    # -- lifecycle -------------------------------------------------------------------

    async def claim(self) -> None:
        """Hold the schema's claim (``claim``) until closed; nothing with ``cluster``:
        nodes share the store, each run held by one of them (``cluster``)."""
        if self.claimed is not None or self.options.cluster:
            return
        claim = StoreClaim(self.connections, self.schema, f"{self.location} (schema {self.schema})")
        try:
            async with asyncio.timeout(self.options.connect_timeout + self._call_timeout):
                await claim.take()
        except (psycopg.Error, TimeoutError) as exc:
            error = translate(exc, self.location, self.last_error, opening=True)
            if error is None:
                raise
            raise error from exc
        self.claimed = claim

    async def open(self) -> None:
        """Connect, create or migrate the schema (under the advisory lock), then open
        the pool and start the writer."""
        self._drained = asyncio.Event()
        self._drained.set()
        try:
            async with asyncio.timeout(self.options.connect_timeout + self._call_timeout):
                conn = await self.connections.connect()
                try:
                    await migrate(conn, self.schema, where=self.location)
                finally:
                    await conn.close()
                await self.connections.open_pool()
        except (psycopg.Error, TimeoutError) as exc:
            error = translate(exc, self.location, self.last_error, opening=True)
            if error is None:
                raise
            raise error from exc
        self.writer = Writer(self.connections.borrow, self._call_timeout)
        self.writer.start()
        if self.options.cluster:
            self.shared = Cluster(
                self.connections, self.schema, self._once, self._write, self.options.lease_s
            )
        self._open = True
        logger.info(
            "PostgreSQL storage open at %s (schema %s, pool %d-%d)",
            self.location,
            self.schema,
            self.options.min_size,
            self.options.max_size,
        )

    async def close(self) -> None:
        """Let calls in flight finish (each is bounded), then stop the writer and
        close the pool."""
        self._closing = True
        if self._inflight and self._drained is not None:
            try:
                async with asyncio.timeout(2 * self._call_timeout + 1):
                    await self._drained.wait()
            except TimeoutError:
                logger.warning("closing %s with calls still in flight", self.location)
        if self.writer is not None:
            await self.writer.stop(self._closed_error())
        await self.connections.close()
        claim, self.claimed = self.claimed, None
        if claim is not None:
            await claim.release()  # last: the store is ours until nothing else runs

    def _closed_error(self) -> StorageUnavailable:
        return not_open(LABEL, self.location, self._closing, {"location": self.location})

    # -- plumbing --------------------------------------------------------------------

    @asynccontextmanager
    async def _guarded(self, timeout: float) -> AsyncIterator[None]:
        """Count the call in flight, bound it, and turn failures into SeqdErrors."""
        if not self._open or self._closing:
            raise self._closed_error()
        if self.claimed is not None:
            self.claimed.check()
        assert self._drained is not None
        self._inflight += 1
        self._drained.clear()
        try:
            async with asyncio.timeout(timeout):
                yield
        except (psycopg.Error, TimeoutError) as exc:
            if isinstance(exc, psycopg.Error) and connection_lost(exc):
                self.connections.lost(exc)
            error = translate(exc, self.location, self.last_error)
            if error is None:
                raise
            raise error from exc
        finally:
            self._inflight -= 1
            if not self._inflight:
                self._drained.set()

    async def _read(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """Run ``fn`` on a pooled connection; if the connection dies under it, once
        more on another (a read can always be repeated)."""
        async with self._guarded(self._call_timeout):
            try:
                async with self.connections.borrow() as conn:
                    return await fn(conn)
            except psycopg.Error as exc:
                if not connection_lost(exc):
                    raise
                self.connections.lost(exc)
                logger.debug("reading again after a lost connection: %s", exc)
            async with self.connections.borrow() as conn:
                return await fn(conn)

    async def _once(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """Run ``fn`` on a pooled connection, once: for what must not be repeated
        blindly (a claim whose answer was lost may have committed)."""
        async with self._guarded(self._call_timeout), self.connections.borrow() as conn:
            return await fn(conn)

    async def _fetch_one(self, query: str, params: Sequence[Any]) -> Any:
        async def fn(conn: Conn) -> Any:
            row = await (await conn.execute(query, params)).fetchone()
            return None if row is None else row[0]

        return await self._read(fn)

    async def _fetch_all(self, query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        async def fn(conn: Conn) -> list[tuple[Any, ...]]:
            return await (await conn.execute(query, params)).fetchall()

        return await self._read(fn)

    async def _write(self, query: str, params: Any, value: bool = False) -> Any:
        """One write through the writer: its row count, or with ``value`` the first
        column of its first row. Returns after the commit."""
        async with self._guarded(2 * self._call_timeout):  # its batch may wait for one
            assert self.writer is not None
            return await self.writer.submit(query, params, value)

    # -- runs ------------------------------------------------------------------------

    async def create_run(self, run: Run) -> tuple[Run, int]:
        check_run_key(run)
        params = q.run_row(run)
        query = q.INSERT_RUN
        if self.shared is not None and self.shared.wants_new(run.task):
            query, params = q.INSERT_RUN_HELD, (*params, self.shared.node_id)
        for _ in range(3):
            position, unsure = await self._insert(query, params)
            if position is not None:
                if query is q.INSERT_RUN_HELD and self.shared is not None:
                    self.shared.fresh(run.id)
                return run, int(position)
            if unsure:  # the lost commit happened: the run is stored, and it is ours
                stored = await self._fetch_all(q.RUN_POSITION, (run.id,))
                if stored and stored[0][1] == run.idempotency_key:
                    return run, int(stored[0][0])
            if run.idempotency_key is not None:
                existing = await self._fetch_one(
                    q.SQL.run_by_key, (run.idempotency_scope, run.idempotency_key)
                )
                if existing is not None:
                    return sql.RUN_DECODER.decode(existing), 0
            if await self._fetch_one(q.RUN_EXISTS, (run.id,)) is not None:
                raise run_exists(run.id)
            # The key's holder let go of it in between (an update cleared it): again.
        raise Conflict(
            f"idempotency key {run.idempotency_key!r} keeps changing hands",
            {"idempotency_key": run.idempotency_key},
        )

    async def _insert(self, query: str, params: tuple[Any, ...]) -> tuple[int | None, bool]:
        """Insert a run: its position, or None if its id or key is taken; and whether
        an earlier try went unanswered. A try whose commit was not confirmed (the
        connection broke, the answer timed out) is tried again until the server
        answers: the id makes the insert idempotent, so the outcome is known before
        the caller hears of it (never a run stored but reported failed)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + UNSURE_FOR_S
        unsure = False
        while True:
            try:
                return await self._write(query, params, value=True), unsure
            except StorageUnavailable as exc:
                if never_sent(exc) or loop.time() > deadline or self._closing:
                    raise
                unsure = True
                logger.warning("a run's insert went unanswered; trying again to learn its fate")
                await asyncio.sleep(0.2)

    async def create_runs(self, runs: Sequence[Run]) -> list[tuple[Run, int]]:
        """One transaction apart from the writer (it reads before it writes): the
        holders of the batch's keys, then the batch's change positions and one INSERT
        of every new run. A key or an id
        taken meanwhile rolls it back; then the ids are looked up, and it is tried again."""
        if not runs:
            return []
        keys = check_keys(runs)
        for _ in range(3):
            async with self._guarded(2 * self._call_timeout), self.connections.borrow() as conn:
                answer = await self._insert_batch(conn, runs, keys)
            if answer is not None:
                return answer
            taken = await self._fetch_all(q.EXISTING_IDS, ([run.id for run in runs],))
            if taken:
                raise id_taken(runs, {row[0] for row in taken})
        raise Conflict("the batch's idempotency keys keep changing hands", {})

    async def import_run(
        self, run: Run, logs: Sequence[NewLogLine], steps: Sequence[NewStep]
    ) -> bool:
        check_run_key(run)
        async with self._guarded(4 * self._call_timeout), self.connections.borrow() as conn:
            return await imports.import_run(conn, run, logs, steps)

    async def _insert_batch(
        self, conn: Conn, runs: Sequence[Run], keys: list[str]
    ) -> list[tuple[Run, int]] | None:
        """The batch's transaction: its answer, or None when it was rolled back."""
        try:
            async with conn.transaction():
                holders: dict[str, Run] = {}
                if keys:
                    scope = key_scope(runs)
                    rows = await (await conn.execute(q.KEY_HOLDERS, (scope, keys))).fetchall()
                    holders = {key: sql.RUN_DECODER.decode(data) for key, data in rows}
                answer, fresh = plan(runs, holders)
                written: dict[str, int] = {}
                if fresh:
                    taken = await (await conn.execute(q.TAKE_CHANGES, (len(fresh),))).fetchone()
                    assert taken is not None
                    positions = list(range(int(taken[0]) - len(fresh) + 1, int(taken[0]) + 1))
                    columns = q.columns_of([q.run_row(run) for run in fresh])
                    cur = await conn.execute(q.INSERT_RUNS, [*columns, positions])
                    if cur.rowcount != len(fresh):
                        raise _RolledBack
                    written = dict(zip((run.id for run in fresh), positions, strict=True))
                return [(run, written[run.id] if created else 0) for run, created in answer]
        except _RolledBack:
            return None

    async def update_run(self, run: Run, expect: Sequence[RunStatus] | None = None) -> int:
        check_run_key(run)
        fence = self.shared.fence(run.id) if self.shared is not None else None
        if expect is None:
            query, params = q.UPDATE_RUN, sql.run_row(run)
        else:
            query, params = q.UPDATE_RUN_CAS, (*sql.run_row(run), list(expect))
        if fence is not None:
            query = q.UPDATE_RUN_FENCED if expect is None else q.UPDATE_RUN_CAS_FENCED
            params = (*params, *fence)
        try:
            position = await self._write(query, params, value=True)
        except pgerrors.UniqueViolation as exc:
            raise key_taken(run.id, run.idempotency_key) from exc
        return 0 if position is None else int(position)

    async def get_run(self, run_id: str) -> Run | None:
        data = await self._fetch_one(q.SQL.get_run, (run_id,))
        return None if data is None else sql.RUN_DECODER.decode(data)

    async def list_runs(self, query: RunQuery) -> RunPage:
        text, params = q.SQL.list_runs(query)
        return page_of(sql.runs_of(await self._fetch_all(text, params)), query.limit)

    async def runs_by_prefix(self, prefix: str, limit: int) -> list[Run]:
        if limit < 1:
            return []
        text, params = q.SQL.runs_by_prefix(prefix, limit)
        return sql.runs_of(await self._fetch_all(text, params))

    async def count_children(self, run_ids: Sequence[str]) -> dict[str, int]:
        ids = list(run_ids)
        return sql.counts_of(await self._fetch_all(q.CHILDREN_OF, (ids,))) if ids else {}

    async def count_by_status(self) -> dict[str, int]:
        return sql.counts_of(await self._fetch_all(q.SQL.count_by_status, ()))

    async def unfinished_runs(self) -> list[Run]:
        return sql.runs_of(await self._fetch_all(q.UNFINISHED, (list(UNFINISHED),)))

    async def prune_runs(self, query: PruneQuery) -> PruneBatch:
        check_prune_query(query)
        roots, cursor = await self._read(partial(pruning.roots, query=query))
        if not roots:
            return PruneBatch(cursor=cursor)
        # A removal is one transaction, so it may be repeated like a read: if the
        # connection died before the commit, nothing happened.
        act = pruning.measure if query.dry_run else pruning.remove
        batch = await self._read(partial(act, roots=roots))
        batch.cursor = cursor
        return batch

    async def run_changes(
        self, after: int, limit: int, root_id: str | None = None
    ) -> list[RunChange]:
        if limit < 1:
            return []
        if root_id is None:
            rows = await self._fetch_all(q.SQL.run_changes, (after, limit))
        else:
            rows = await self._fetch_all(q.SQL.tree_changes, (root_id, after, limit))
        return sql.changes_of(rows)

    async def last_change(self) -> int:
        return int(await self._fetch_one(q.SQL.last_change, ()))
