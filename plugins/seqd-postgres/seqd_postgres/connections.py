"""The backend's connections: a psycopg pool that heals itself, and why it cannot.

Every connection is in autocommit mode, with the store's schema on its search_path
and the statement bound set once when it is opened. The pool reopens lost
connections in the background; ``borrow`` never hands out an idle connection the
server has already closed. The last failed connection attempt is kept, so that "no
connection in time" can say why (the pool connects where no caller sees the error).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Self

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool, PoolClosed

from seqd_postgres.faults import is_stale, one_line
from seqd_postgres.options import PostgresOptions
from seqd_postgres.transitions import SETTING

logger = logging.getLogger(__name__)

Conn = AsyncConnection[TupleRow]

RECONNECT_TIMEOUT_S = 10.0
"""How long the pool retries (with backoff) to replace one lost connection before it
gives up on it; a later call asks for a new one, so recovery after a long outage
stays prompt."""
DEFAULT_PARAMS = {
    "application_name": "seqd",
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
}
"""Connection parameters used unless the DSN sets them: keepalives notice a server
that vanished without closing its connections."""


def _tracked(record: Callable[[str | None], None]) -> type[Conn]:
    """A connection class that reports how each connection attempt ended."""

    class TrackedConnection(AsyncConnection[TupleRow]):
        @classmethod
        async def connect(cls, conninfo: str = "", **kwargs: Any) -> Self:
            try:
                conn = await super().connect(conninfo, **kwargs)
            except psycopg.Error as exc:
                record(one_line(exc))
                raise
            record(None)
            return conn

    return TrackedConnection


class Connections:
    """Opens connections to one store; ``open_pool`` then serves ``borrow``."""

    def __init__(self, dsn: str, location: str, options: PostgresOptions, durability: str) -> None:
        self.location = location
        self.options = options
        self.pool: AsyncConnectionPool[Conn] | None = None
        self.last_error: str | None = None
        """The last failed connection attempt, cleared by a successful one."""
        self._dsn = dsn
        self._full = durability == "full"
        given = conninfo_to_dict(dsn)
        self._kwargs: dict[str, Any] = {
            **{k: v for k, v in DEFAULT_PARAMS.items() if k not in given},
            "connect_timeout": options.connect_timeout,
            "autocommit": True,
        }
        self._class = _tracked(self._attempted)

    def _attempted(self, error: str | None) -> None:
        if error is not None and error != self.last_error:
            logger.warning("cannot connect to PostgreSQL at %s: %s", self.location, error)
        elif error is None and self.last_error is not None and self.pool is not None:
            logger.info("connected to PostgreSQL at %s again", self.location)
        self.last_error = error

    def lost(self, exc: psycopg.Error) -> None:
        """Note a connection that died in use (the likely reason for what follows)."""
        self.last_error = one_line(exc)

    async def _configure(self, conn: Conn) -> None:
        """Session settings: our schema, the statement bound and, for ``full``
        durability, synchronous commit whatever the server's default."""
        settings = [
            ("search_path", sql.Identifier(self.options.schema).as_string(conn)),
            ("statement_timeout", f"{round(self.options.statement_timeout_s * 1000)}ms"),
        ]
        if self._full:
            settings.append(("synchronous_commit", "on"))
        if self.options.cluster:  # nodes keep every run write for each other's feeds
            settings.append((SETTING, "on"))
        query = sql.SQL("SELECT {}").format(
            sql.SQL(", ").join(sql.SQL("set_config(%s, %s, false)") for _ in settings)
        )
        await conn.execute(query, [part for pair in settings for part in pair])

    async def connect(self, application_name: str | None = None) -> Conn:
        """One configured connection outside the pool (for migrations at open, and the
        store's claim, which names its session ``application_name``)."""
        kwargs = self._kwargs
        if application_name is not None:
            kwargs = {**kwargs, "application_name": application_name}
        conn = await self._class.connect(self._dsn, **kwargs)
        try:
            await self._configure(conn)
        except BaseException:
            await conn.close()
            raise
        return conn

    async def open_pool(self) -> None:
        pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            self._dsn,
            kwargs=self._kwargs,
            min_size=self.options.min_size,
            max_size=self.options.max_size,
            open=False,
            connection_class=self._class,
            configure=self._configure,
            timeout=self.options.pool_timeout_s,
            reconnect_timeout=RECONNECT_TIMEOUT_S,
            name=f"seqd-{self.options.schema}",
        )
        await pool.open(wait=True, timeout=self.options.connect_timeout)
        self.pool = pool

    async def close(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            await pool.close(timeout=5.0)

    async def _acquire(self, pool: AsyncConnectionPool[Conn]) -> Conn:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.pool_timeout_s
        while True:
            conn = await pool.getconn(timeout=max(0.0, deadline - loop.time()))
            if not is_stale(conn):
                return conn
            logger.debug("dropping a pooled connection the server has closed")
            await conn.close()
            await pool.putconn(conn)  # closed: the pool opens a replacement

    @asynccontextmanager
    async def borrow(self) -> AsyncIterator[Conn]:
        """A live pooled connection for the block (``PoolClosed`` once closed)."""
        pool = self.pool
        if pool is None:
            raise PoolClosed(f"the pool of {self.location} is closed")
        conn = await self._acquire(pool)
        try:
            yield conn
        finally:
            await pool.putconn(conn)
