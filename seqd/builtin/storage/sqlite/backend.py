"""The built-in SQLite storage backend (``storage = "sqlite"``, the default).

One file in WAL mode. Writes go through ``Writer`` (one thread, grouped commits);
reads run on a small pool of threads, each with its own connection (``connections``),
so neither ever blocks the event loop. A write's future resolves after its commit, and
every read starts a fresh WAL snapshot, so a read issued after an awaited write sees
it. This module says what each call does to the tables; the statements on the tables
the PostgreSQL store shares are ``seqd.plugins.storage_kit.sql``'s.

Options, ``[backends.sqlite]``: ``path`` (default ``<state_dir>/seqd.db``; relative
paths are taken from the state dir), ``busy_timeout_ms`` (how long to wait for another
process's lock before reporting ``storage_unavailable``), ``read_connections``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sqlite3
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

import msgspec
from msgspec import Meta

from seqd import hookimpl
from seqd.builtin.storage.sqlite import batches, pruning
from seqd.builtin.storage.sqlite.connections import ReaderConnections, connect, prepare
from seqd.builtin.storage.sqlite.faults import LABEL, unavailable
from seqd.builtin.storage.sqlite.imports import INSERT_LOG, INSERT_STEP, import_run_op
from seqd.builtin.storage.sqlite.positions import Positions
from seqd.builtin.storage.sqlite.tables import SmallTables
from seqd.builtin.storage.sqlite.writer import SMALL_BYTES, SMALL_ROWS, Writer
from seqd.model.retention import PruneBatch, PruneQuery
from seqd.model.runs import (
    LogLine,
    NewLogLine,
    NewStep,
    Run,
    RunChange,
    RunPage,
    RunQuery,
    RunStatus,
    Step,
)
from seqd.model.status import UNFINISHED
from seqd.plugins.storage import StorageContext, StorageFactory
from seqd.plugins.storage_kit import lockfile
from seqd.plugins.storage_kit.alerts import (
    AlertStatements,
)
from seqd.plugins.storage_kit.errors import key_taken, not_open, run_exists
from seqd.plugins.storage_kit.options import check_durability, convert_options, path_in_state_dir
from seqd.plugins.storage_kit.pruning import check_prune_query
from seqd.plugins.storage_kit.reader_pool import ReaderPool
from seqd.plugins.storage_kit.records import (
    check_run_key,
    number_steps,
    page_of,
)
from seqd.plugins.storage_kit.sql import (
    RUN_DECODER,
    Statements,
    changes_of,
    counts_of,
    log_lines,
    run_row,
    runs_of,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

_ENCODER = msgspec.json.Encoder()
_STEP_DECODER = msgspec.json.Decoder(Step)
_SYNCHRONOUS = {"normal": "NORMAL", "full": "FULL"}

_SQL = Statements("?", position="?")  # the position is ``Positions``' (see there)
_ALERTS = AlertStatements("?")
_LAST_SEQ = "SELECT MAX(seq) FROM logs WHERE run_id = ?"
_LAST_STEP = "SELECT MAX(seq) FROM steps WHERE run_id = ?"
_READ_STEPS = "SELECT data FROM steps WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?"
_PLACEHOLDERS = ", ".join("?" * len(UNFINISHED))
_UNFINISHED = f"SELECT data FROM runs WHERE status IN ({_PLACEHOLDERS}) ORDER BY id"  # noqa: S608


class SQLiteOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    path: str | None = None
    busy_timeout_ms: Annotated[int, Meta(ge=0, le=600_000)] = 5000
    read_connections: Annotated[int, Meta(ge=1, le=64)] = 4


def parse_options(options: dict[str, Any]) -> SQLiteOptions:
    """Validate ``[backends.sqlite]``; the error names the offending field."""
    return convert_options(options, SQLiteOptions, "backends.sqlite")


class SQLiteBackend(SmallTables):
    """``seqd.plugins.storage.StorageBackend`` on one SQLite file."""

    name = "sqlite"

    def __init__(
        self,
        path: str,
        durability: str = "normal",
        busy_timeout_ms: int = 5000,
        read_connections: int = 4,
    ) -> None:
        self.location = path
        self.durability = check_durability(durability)
        self._busy_timeout_ms = busy_timeout_ms
        self._connect = functools.partial(connect, path, busy_timeout_ms, _SYNCHRONOUS[durability])
        self.writer: Writer | None = None
        self._readers = ReaderPool(read_connections, "seqd-sqlite-read", LABEL, path)
        self._positions = Positions()
        self._reader_conns = ReaderConnections(self._connect, path)
        self._claim_fd: int | None = None

    # -- lifecycle -------------------------------------------------------------------

    async def claim(self) -> None:
        """Hold ``<path>.lock`` (a ``flock``) until closed: SQLite's own locks last a
        transaction, and cannot say that a daemon lives on the file."""
        if self._claim_fd is None:
            try:
                self._claim_fd = await asyncio.to_thread(self._take_claim)
            except OSError as exc:
                raise unavailable(exc, self.location) from exc

    def _take_claim(self) -> int:
        os.makedirs(os.path.dirname(self.location) or ".", exist_ok=True)
        return lockfile.claim(self.location + ".lock", self.location)

    async def open(self) -> None:
        await asyncio.to_thread(prepare, self._connect, self.location)
        self.writer = Writer(
            self._connect,
            self.location,
            inline=self.durability == "normal",
            busy_timeout_ms=self._busy_timeout_ms,
        )
        self.writer.start()
        self._readers.start()
        try:
            await self.writer.submit(self._positions.load)  # proves the file is writable
        except BaseException:
            await self.close()
            raise
        logger.info("SQLite storage open at %s", self.location)

    async def close(self) -> None:
        if self.writer is not None:
            await self.writer.close()
        await self._readers.close()
        self._reader_conns.close()
        fd, self._claim_fd = self._claim_fd, None
        if fd is not None:
            os.close(fd)  # last: nothing of ours touches the file any more

    # -- plumbing --------------------------------------------------------------------

    def _write(
        self, op: Callable[[sqlite3.Connection], T], *, small: bool = True
    ) -> asyncio.Future[T]:
        """Queue ``op`` for the writer; a ``small`` one may commit on the loop at once
        when the writer is idle (``Writer``'s fast path). Big ones (many rows, large
        values) always go through the thread, so the loop is never held for long."""
        if self.writer is None:
            raise not_open(LABEL, self.location)
        return self.writer.submit(op, inline=small)

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """Run ``fn`` on a reader thread's own connection."""
        return self._readers.run(self._reader_conns.call, fn)

    # -- runs ------------------------------------------------------------------------

    async def create_run(self, run: Run) -> tuple[Run, int]:
        check_run_key(run)
        row = run_row(run)
        key = run.idempotency_key

        def op(conn: sqlite3.Connection) -> str | int:
            if key is not None:
                found = conn.execute(_SQL.run_by_key, (run.idempotency_scope, key)).fetchall()
                if found:
                    return str(found[0][0])
            try:
                return self._positions.write(conn, _SQL.insert_run, row)
            except sqlite3.IntegrityError as exc:
                raise run_exists(run.id) from exc

        written = await self._write(op, small=len(row[6]) <= SMALL_BYTES)
        if isinstance(written, int):
            return run, written
        return RUN_DECODER.decode(written), 0

    async def create_runs(self, runs: Sequence[Run]) -> list[tuple[Run, int]]:
        if not runs:
            return []
        return await self._write(batches.create_runs_op(runs, self._positions), small=False)

    async def import_run(
        self, run: Run, logs: Sequence[NewLogLine], steps: Sequence[NewStep]
    ) -> bool:
        op = import_run_op(run, logs, steps, self._positions)
        written: bool = await self._write(op, small=False)
        return written

    async def update_run(self, run: Run, expect: Sequence[RunStatus] | None = None) -> int:
        check_run_key(run)
        query = _SQL.update_run
        params = run_row(run)
        if expect is not None:
            query += f" AND status IN ({', '.join('?' * len(expect))})"
            params += tuple(expect)

        def op(conn: sqlite3.Connection) -> int:
            try:
                return self._positions.write(conn, query, params)
            except sqlite3.IntegrityError as exc:
                raise key_taken(run.id, run.idempotency_key) from exc

        return await self._write(op, small=len(params[6]) <= SMALL_BYTES)

    async def get_run(self, run_id: str) -> Run | None:
        def fn(conn: sqlite3.Connection) -> Run | None:
            rows = conn.execute(_SQL.get_run, (run_id,)).fetchall()
            return RUN_DECODER.decode(rows[0][0]) if rows else None

        return await self._read(fn)

    async def list_runs(self, query: RunQuery) -> RunPage:
        text, params = _SQL.list_runs(query)

        def fn(conn: sqlite3.Connection) -> list[Run]:
            return runs_of(conn.execute(text, params).fetchall())

        return page_of(await self._read(fn), query.limit)

    async def runs_by_prefix(self, prefix: str, limit: int) -> list[Run]:
        text, params = _SQL.runs_by_prefix(prefix, limit)

        def fn(conn: sqlite3.Connection) -> list[Run]:
            return runs_of(conn.execute(text, params).fetchall())

        return await self._read(fn) if limit > 0 else []

    async def count_children(self, run_ids: Sequence[str]) -> dict[str, int]:
        ids = list(run_ids)
        return await self._read(lambda conn: batches.count_children(conn, ids)) if ids else {}

    async def count_by_status(self) -> dict[str, int]:
        def fn(conn: sqlite3.Connection) -> dict[str, int]:
            return counts_of(conn.execute(_SQL.count_by_status).fetchall())

        return await self._read(fn)

    async def unfinished_runs(self) -> list[Run]:
        def fn(conn: sqlite3.Connection) -> list[Run]:
            return runs_of(conn.execute(_UNFINISHED, UNFINISHED).fetchall())

        return await self._read(fn)

    async def prune_runs(self, query: PruneQuery) -> PruneBatch:
        check_prune_query(query)
        roots, cursor = await self._read(functools.partial(pruning.roots, query=query))
        if not roots:
            return PruneBatch(cursor=cursor)
        if query.dry_run:
            batch = await self._read(functools.partial(pruning.measure, roots=roots))
        else:

            def op(conn: sqlite3.Connection) -> PruneBatch:
                removed = pruning.remove(conn, roots)
                if removed.removed and self.writer is not None:
                    self.writer.reclaim()
                return removed

            batch = await self._write(op, small=False)
        batch.cursor = cursor
        return batch

    async def run_changes(
        self, after: int, limit: int, root_id: str | None = None
    ) -> list[RunChange]:
        if limit < 1:
            return []
        query, params = (
            (_SQL.run_changes, (after, limit))
            if root_id is None
            else (_SQL.tree_changes, (root_id, after, limit))
        )

        def fn(conn: sqlite3.Connection) -> list[RunChange]:
            return changes_of(conn.execute(query, params).fetchall())

        return await self._read(fn)

    async def last_change(self) -> int:
        def fn(conn: sqlite3.Connection) -> int:
            return int(conn.execute(_SQL.last_change).fetchall()[0][0])

        return await self._read(fn)

    # -- logs ------------------------------------------------------------------------

    async def append_logs(self, run_id: str, lines: Sequence[NewLogLine]) -> int:
        values = [(line.ts, line.stream, line.text) for line in lines]

        def op(conn: sqlite3.Connection) -> int:
            last = int(conn.execute(_LAST_SEQ, (run_id,)).fetchall()[0][0] or 0)
            conn.executemany(
                INSERT_LOG,
                [(run_id, last + i, *value) for i, value in enumerate(values, 1)],
            )
            return last + len(values)

        size = sum(len(v[2]) for v in values)
        return await self._write(op, small=len(values) <= SMALL_ROWS and size <= SMALL_BYTES)

    async def read_logs(self, run_id: str, after: int, limit: int) -> list[LogLine]:
        if limit < 1:
            return []

        def fn(conn: sqlite3.Connection) -> list[LogLine]:
            return log_lines(conn.execute(_SQL.read_logs, (run_id, after, limit)).fetchall())

        return await self._read(fn)

    async def last_log_seq(self, run_id: str) -> int:
        def fn(conn: sqlite3.Connection) -> int:
            return int(conn.execute(_LAST_SEQ, (run_id,)).fetchall()[0][0] or 0)

        return await self._read(fn)

    # -- journal ---------------------------------------------------------------------

    async def append_steps(self, run_id: str, steps: Sequence[NewStep]) -> int:
        def op(conn: sqlite3.Connection) -> int:
            last = int(conn.execute(_LAST_STEP, (run_id,)).fetchall()[0][0] or 0)
            conn.executemany(
                INSERT_STEP,
                [(run_id, s.seq, _ENCODER.encode(s).decode()) for s in number_steps(last, steps)],
            )
            return last + len(steps)

        return await self._write(op, small=len(steps) <= SMALL_ROWS)

    async def read_steps(self, run_id: str, after: int, limit: int) -> list[Step]:
        if limit < 1:
            return []

        def fn(conn: sqlite3.Connection) -> list[Step]:
            rows = conn.execute(_READ_STEPS, (run_id, after, limit)).fetchall()
            return [_STEP_DECODER.decode(row[0]) for row in rows]

        return await self._read(fn)

    async def last_step_seq(self, run_id: str) -> int:
        def fn(conn: sqlite3.Connection) -> int:
            return int(conn.execute(_LAST_STEP, (run_id,)).fetchall()[0][0] or 0)

        return await self._read(fn)


class SQLiteStorageFactory:
    """Opens ``SQLiteBackend`` from ``[backends.sqlite]``."""

    name = "sqlite"

    def create(self, options: dict[str, Any], context: StorageContext) -> SQLiteBackend:
        opts = parse_options(options)
        return SQLiteBackend(
            path_in_state_dir(context, opts.path, "seqd.db"),
            durability=context.durability,
            busy_timeout_ms=opts.busy_timeout_ms,
            read_connections=opts.read_connections,
        )


@hookimpl
def seqd_register_storage_backends(register: Callable[[StorageFactory], None]) -> None:
    register(SQLiteStorageFactory())
