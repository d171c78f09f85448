"""The built-in SQLite storage backend (``storage = "sqlite"``, the default).

One file in WAL mode. Writes go through ``Writer`` (one thread, grouped commits);
reads run on a small pool of threads, each with its own connection, so neither ever
blocks the event loop. A write's future resolves after its commit, and every read
starts a fresh WAL snapshot, so a read issued after an awaited write sees it.

Options, ``[backends.sqlite]``: ``path`` (default ``<state_dir>/seqd.db``; relative
paths are taken from the state dir), ``busy_timeout_ms`` (how long to wait for another
process's lock before reporting ``storage_unavailable``), ``read_connections``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, TypeVar

import msgspec
from msgspec import Meta

from seqd import hookimpl
from seqd.builtin.storage.sqlite.schema import migrate
from seqd.builtin.storage.sqlite.writer import Writer, is_unavailable, unavailable
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
from seqd.model.status import UNFINISHED
from seqd.model.timeutil import now
from seqd.plugins.storage import (
    StorageContext,
    StorageFactory,
    check_kv_name,
    kv_page,
    kv_start,
    list_runs_sql,
    number_steps,
    page_of,
    path_in_state_dir,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

_ENCODER = msgspec.json.Encoder()
SMALL_ROWS = 64
SMALL_BYTES = 64 * 1024
"""Writes within these may take the idle fast path (commit on the event loop)."""
_RUN_DECODER = msgspec.json.Decoder(Run)
_STEP_DECODER = msgspec.json.Decoder(Step)
_SYNCHRONOUS = {"normal": "NORMAL", "full": "FULL"}

_INSERT_RUN = (
    "INSERT INTO runs (task, status, parent_id, root_id, idempotency_key, created_at, data,"
    " id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPDATE_RUN = (
    "UPDATE runs SET task = ?, status = ?, parent_id = ?, root_id = ?, idempotency_key = ?,"
    " created_at = ?, data = ? WHERE id = ?"
)
_BY_KEY = "SELECT data FROM runs WHERE idempotency_key = ?"
_LAST_SEQ = "SELECT MAX(seq) FROM logs WHERE run_id = ?"
_INSERT_LOG = "INSERT INTO logs (run_id, seq, ts, stream, text) VALUES (?, ?, ?, ?, ?)"
_LAST_STEP = "SELECT MAX(seq) FROM steps WHERE run_id = ?"
_INSERT_STEP = "INSERT INTO steps (run_id, seq, data) VALUES (?, ?, ?)"
_READ_STEPS = "SELECT data FROM steps WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?"
_KV_GET = "SELECT value, updated_at FROM kv WHERE namespace = ? AND key = ?"
_KV_SET = (
    "INSERT INTO kv (namespace, key, value, updated_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value,"
    " updated_at = excluded.updated_at"
)
_KV_DELETE = "DELETE FROM kv WHERE namespace = ? AND key = ?"
_KV_LIST = (
    "SELECT key, value, updated_at FROM kv WHERE namespace = ? AND key {op} ? ORDER BY key LIMIT ?"
)
_PLACEHOLDERS = ", ".join("?" * len(UNFINISHED))
_UNFINISHED = f"SELECT data FROM runs WHERE status IN ({_PLACEHOLDERS}) ORDER BY id"  # noqa: S608


class SQLiteOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    path: str | None = None
    busy_timeout_ms: Annotated[int, Meta(ge=0, le=600_000)] = 5000
    read_connections: Annotated[int, Meta(ge=1, le=64)] = 4


def parse_options(options: dict[str, Any]) -> SQLiteOptions:
    """Validate ``[backends.sqlite]``; the error names the offending field."""
    try:
        return msgspec.convert(options, SQLiteOptions)
    except msgspec.ValidationError as exc:
        text = str(exc)
        found = re.search(r"at `\$\.([^`]+)`", text) or re.search(r"field `([^`]+)`", text)
        field = f"backends.sqlite.{found.group(1)}" if found else "backends.sqlite"
        raise ValidationFailed(f"{field}: {text}", {"field": field}) from None


def connect(
    path: str, busy_timeout_ms: int, synchronous: str, query_only: bool = False
) -> sqlite3.Connection:
    """A connection in autocommit mode (we issue BEGIN ourselves) with our pragmas."""
    conn = sqlite3.connect(
        path,
        timeout=busy_timeout_ms / 1000,
        isolation_level=None,
        check_same_thread=False,
        cached_statements=256,
    )
    try:
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        if query_only:
            conn.execute("PRAGMA query_only = 1")
    except BaseException:
        conn.close()
        raise
    return conn


def _row(run: Run) -> tuple[Any, ...]:
    """Parameters for _INSERT_RUN / _UPDATE_RUN (id last)."""
    data = _ENCODER.encode(run).decode()
    return (
        run.task, run.status, run.parent_id, run.root_id, run.idempotency_key,
        run.created_at, data, run.id,
    )  # fmt: skip


def _decode_runs(rows: list[Any]) -> list[Run]:
    return [_RUN_DECODER.decode(row[0]) for row in rows]


class SQLiteBackend:
    """``seqd.plugins.storage.StorageBackend`` on one SQLite file."""

    name = "sqlite"

    def __init__(
        self,
        path: str,
        durability: str = "normal",
        busy_timeout_ms: int = 5000,
        read_connections: int = 4,
    ) -> None:
        if durability not in _SYNCHRONOUS:
            raise ValidationFailed(
                f"durability must be one of {sorted(_SYNCHRONOUS)}, not {durability!r}",
                {"field": "durability"},
            )
        self.location = path
        self.durability = durability
        self._busy_timeout_ms = busy_timeout_ms
        self._connect = functools.partial(connect, path, busy_timeout_ms, _SYNCHRONOUS[durability])
        self._read_connections = read_connections
        self.writer: Writer | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------

    async def open(self) -> None:
        await asyncio.to_thread(self._prepare)
        self.writer = Writer(
            self._connect,
            self.location,
            inline=self.durability == "normal",
            busy_timeout_ms=self._busy_timeout_ms,
        )
        self.writer.start()
        self._readers = ThreadPoolExecutor(
            self._read_connections, thread_name_prefix="seqd-sqlite-read"
        )
        try:
            await self.writer.submit(lambda conn: None)  # proves the file is writable
        except BaseException:
            await self.close()
            raise
        logger.info("SQLite storage open at %s", self.location)

    def _prepare(self) -> None:
        """Create the directory and file, switch to WAL, migrate (in a thread)."""
        try:
            os.makedirs(os.path.dirname(self.location) or ".", exist_ok=True)
            conn = self._connect()
        except (OSError, sqlite3.Error) as exc:
            raise unavailable(exc, self.location) from exc
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StorageUnavailable(
                    f"SQLite storage at {self.location} cannot use WAL journal mode (got "
                    f"{mode!r}); the file system may not support it",
                    {"location": self.location},
                )
            migrate(conn, where=self.location)
        except sqlite3.Error as exc:
            if is_unavailable(exc):
                raise unavailable(exc, self.location) from exc
            raise
        finally:
            conn.close()

    async def close(self) -> None:
        if self.writer is not None:
            await self.writer.close()
        pool, self._readers = self._readers, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, True)
        with self._conns_lock:
            conns, self._reader_conns = self._reader_conns, []
        for conn in conns:
            conn.close()

    # -- plumbing --------------------------------------------------------------------

    def _write(
        self, op: Callable[[sqlite3.Connection], T], *, small: bool = True
    ) -> asyncio.Future[T]:
        """Queue ``op`` for the writer; a ``small`` one may commit on the loop at once
        when the writer is idle (``Writer``'s fast path). Big ones (many rows, large
        values) always go through the thread, so the loop is never held for long."""
        if self.writer is None:
            raise StorageUnavailable(f"SQLite storage at {self.location} is not open")
        return self.writer.submit(op, inline=small)

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        pool = self._readers
        if pool is None:
            raise StorageUnavailable(f"SQLite storage at {self.location} is not open")
        try:
            result = asyncio.get_running_loop().run_in_executor(pool, self._in_reader, fn)
        except RuntimeError as exc:  # the pool was shut down by close()
            raise StorageUnavailable(f"SQLite storage at {self.location} is closed") from exc
        return await result

    def _in_reader(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on this pool thread's own connection (opened on first use)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        try:
            if conn is None:
                conn = self._connect(query_only=True)
                self._local.conn = conn
                with self._conns_lock:
                    self._reader_conns.append(conn)
            return fn(conn)
        except sqlite3.Error as exc:
            if not is_unavailable(exc):
                raise
            if conn is not None:  # start afresh next time: the file may have been replaced
                self._local.conn = None
                with self._conns_lock:
                    if conn in self._reader_conns:
                        self._reader_conns.remove(conn)
                conn.close()
            raise unavailable(exc, self.location) from exc

    # -- runs ------------------------------------------------------------------------

    async def create_run(self, run: Run) -> tuple[Run, bool]:
        row = _row(run)
        key = run.idempotency_key

        def op(conn: sqlite3.Connection) -> str | None:
            if key is not None:
                found = conn.execute(_BY_KEY, (key,)).fetchall()
                if found:
                    return str(found[0][0])
            try:
                conn.execute(_INSERT_RUN, row)
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"run {run.id} already exists", {"id": run.id}) from exc
            return None

        existing = await self._write(op, small=len(row[6]) <= SMALL_BYTES)
        if existing is None:
            return run, True
        return _RUN_DECODER.decode(existing), False

    async def update_run(self, run: Run, expect: Sequence[RunStatus] | None = None) -> bool:
        sql = _UPDATE_RUN
        params = _row(run)
        if expect is not None:
            sql += f" AND status IN ({', '.join('?' * len(expect))})"
            params += tuple(expect)

        def op(conn: sqlite3.Connection) -> bool:
            try:
                return conn.execute(sql, params).rowcount == 1
            except sqlite3.IntegrityError as exc:
                raise Conflict(
                    f"idempotency key {run.idempotency_key!r} belongs to another run",
                    {"id": run.id, "idempotency_key": run.idempotency_key},
                ) from exc

        return await self._write(op, small=len(params[6]) <= SMALL_BYTES)

    async def get_run(self, run_id: str) -> Run | None:
        def fn(conn: sqlite3.Connection) -> Run | None:
            rows = conn.execute("SELECT data FROM runs WHERE id = ?", (run_id,)).fetchall()
            return _RUN_DECODER.decode(rows[0][0]) if rows else None

        return await self._read(fn)

    async def list_runs(self, query: RunQuery) -> RunPage:
        sql, params = list_runs_sql(query, "?")

        def fn(conn: sqlite3.Connection) -> list[Run]:
            return _decode_runs(conn.execute(sql, params).fetchall())

        return page_of(await self._read(fn), query.limit)

    async def count_by_status(self) -> dict[str, int]:
        def fn(conn: sqlite3.Connection) -> dict[str, int]:
            rows = conn.execute("SELECT status, COUNT(*) FROM runs GROUP BY status").fetchall()
            return {str(status): int(count) for status, count in rows}

        return await self._read(fn)

    async def unfinished_runs(self) -> list[Run]:
        def fn(conn: sqlite3.Connection) -> list[Run]:
            return _decode_runs(conn.execute(_UNFINISHED, UNFINISHED).fetchall())

        return await self._read(fn)

    # -- logs ------------------------------------------------------------------------

    async def append_logs(self, run_id: str, lines: Sequence[NewLogLine]) -> int:
        values = [(line.ts, line.stream, line.text) for line in lines]

        def op(conn: sqlite3.Connection) -> int:
            last = int(conn.execute(_LAST_SEQ, (run_id,)).fetchall()[0][0] or 0)
            conn.executemany(
                _INSERT_LOG,
                [(run_id, last + i, *value) for i, value in enumerate(values, 1)],
            )
            return last + len(values)

        size = sum(len(v[2]) for v in values)
        return await self._write(op, small=len(values) <= SMALL_ROWS and size <= SMALL_BYTES)

    async def read_logs(self, run_id: str, after: int, limit: int) -> list[LogLine]:
        if limit < 1:
            return []

        def fn(conn: sqlite3.Connection) -> list[LogLine]:
            rows = conn.execute(
                "SELECT seq, ts, stream, text FROM logs WHERE run_id = ? AND seq > ?"
                " ORDER BY seq LIMIT ?",
                (run_id, after, limit),
            ).fetchall()
            return [LogLine(seq=s, ts=ts, stream=st, text=tx) for s, ts, st, tx in rows]

        return await self._read(fn)

    # -- journal ---------------------------------------------------------------------

    async def append_steps(self, run_id: str, steps: Sequence[NewStep]) -> int:
        def op(conn: sqlite3.Connection) -> int:
            last = int(conn.execute(_LAST_STEP, (run_id,)).fetchall()[0][0] or 0)
            conn.executemany(
                _INSERT_STEP,
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

    # -- key-value state -------------------------------------------------------------

    async def kv_get(self, namespace: str, key: str) -> KVEntry | None:
        check_kv_name(namespace, key)

        def fn(conn: sqlite3.Connection) -> KVEntry | None:
            rows = conn.execute(_KV_GET, (namespace, key)).fetchall()
            if not rows:
                return None
            value, updated = rows[0]
            return KVEntry(
                namespace=namespace, key=key, value=msgspec.json.decode(value), updated_at=updated
            )

        return await self._read(fn)

    async def kv_set(self, namespace: str, key: str, value: Any) -> KVEntry:
        check_kv_name(namespace, key)
        text = _ENCODER.encode(value).decode()
        entry = KVEntry(namespace=namespace, key=key, value=value, updated_at=now())

        def op(conn: sqlite3.Connection) -> None:
            conn.execute(_KV_SET, (namespace, key, text, entry.updated_at))

        await self._write(op, small=len(text) <= SMALL_BYTES)
        return entry

    async def kv_delete(self, namespace: str, key: str) -> bool:
        check_kv_name(namespace, key)

        def op(conn: sqlite3.Connection) -> bool:
            return conn.execute(_KV_DELETE, (namespace, key)).rowcount == 1

        return await self._write(op)

    async def kv_namespaces(self) -> list[str]:
        def fn(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute("SELECT DISTINCT namespace FROM kv ORDER BY namespace")
            return [row[0] for row in rows.fetchall()]

        return await self._read(fn)

    async def kv_list(
        self, namespace: str, prefix: str = "", after: str | None = None, limit: int = 100
    ) -> list[KVEntry]:
        check_kv_name(namespace)
        if limit < 1:
            return []
        start, inclusive = kv_start(prefix, after)
        sql = _KV_LIST.format(op=">=" if inclusive else ">")

        def fn(conn: sqlite3.Connection) -> list[KVEntry]:
            rows = conn.execute(sql, (namespace, start, limit)).fetchall()
            return [
                KVEntry(namespace=namespace, key=k, value=msgspec.json.decode(v), updated_at=u)
                for k, v, u in rows
            ]

        return kv_page(await self._read(fn), prefix)


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
