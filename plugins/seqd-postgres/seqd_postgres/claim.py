"""The store's claim: one daemon per schema, held as a session advisory lock.

Its own module because the claim lives on a connection of its own, outside the pool,
for as long as the daemon: the server drops the lock when that session ends, so a
daemon that dies (SIGKILL, a lost machine) never leaves a stale claim. The session's
``application_name`` says ``seqd pid=N host=H``, so a refused daemon can name the
holder (``pg_locks`` joined with ``pg_stat_activity``).

A connection can die while the daemon lives (a server restart, a network cut). The
claim is watched: once lost, it is taken again as soon as the server answers — or, if
another daemon took the store meanwhile, the backend refuses every call from then on
(``lost``) rather than let two daemons run the same runs. Multi-node storage will
replace this with node leases.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
from typing import Any

import psycopg

from seqd.plugins.storage import StoreHeld
from seqd_postgres.connections import Conn, Connections
from seqd_postgres.faults import one_line

logger = logging.getLogger(__name__)

CLAIM_CLASS = 0x5E9E
"""First key of ``pg_advisory_lock(int, int)``; the second is the schema's hash (the
migrations' transaction lock uses ``schema.LOCK_CLASS``, so the two never meet)."""
CHECK_EVERY_S = 5.0
"""How often the claim's connection is checked while the daemon runs."""
RETAKE_EVERY_S = 1.0
"""How often a lost claim is tried again."""

_TRY = "SELECT pg_try_advisory_lock(%s, hashtext(%s))"
_HOLDERS = """
SELECT a.application_name, a.client_hostname, host(a.client_addr)
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid = %s::bigint::oid
  AND l.objid = (hashtext(%s)::bigint & 4294967295)::oid
"""
_NAME = re.compile(r"seqd pid=(\d+) host=(\S*)")


def application_name() -> str:
    """What this process's claim session is called (PostgreSQL keeps 63 bytes)."""
    return f"seqd pid={os.getpid()} host={socket.gethostname()}"[:63]


def _ours() -> tuple[int | None, str | None]:
    """This process as ``holder`` reads it back from its session's name."""
    found = _NAME.fullmatch(application_name())
    assert found is not None
    return int(found.group(1)), found.group(2)


class StoreClaim:
    """The claim on one schema; ``take`` it, ``check`` before each call, ``release``."""

    def __init__(self, connections: Connections, schema: str, where: str) -> None:
        self.connections = connections
        self.schema = schema
        self.where = where
        """The store, for messages: the DSN without password, and the schema."""
        self.lost: StoreHeld | None = None
        """Set when another daemon took the store after this one lost its claim."""
        self._conn: Conn | None = None
        self._watch: asyncio.Task[None] | None = None

    async def take(self) -> None:
        """Hold the claim (``StoreHeld`` naming the holder if another session has it)
        and watch it from now on."""
        conn = await self._try()
        if conn is None:
            raise StoreHeld(self.where, *(await self.holder() or (None, None)))
        self._conn = conn
        self._watch = asyncio.get_running_loop().create_task(self._keep())

    async def _try(self) -> Conn | None:
        """A new session holding the lock, or None if another session has it."""
        conn = await self.connections.connect(application_name=application_name())
        try:
            row = await (await conn.execute(_TRY, (CLAIM_CLASS, self.schema))).fetchone()
        except BaseException:
            await conn.close()
            raise
        if row is not None and row[0]:
            return conn
        await conn.close()
        return None

    async def holder(self) -> tuple[int | None, str | None] | None:
        """The pid and host the holding session's name gives (each None where it does
        not say); None when no session holds the claim."""
        conn = await self.connections.connect()
        try:
            cur = await conn.execute(_HOLDERS, (CLAIM_CLASS, self.schema))
            rows: list[tuple[Any, ...]] = await cur.fetchall()
        finally:
            await conn.close()
        for name, hostname, address in rows:
            found = _NAME.fullmatch(name or "")
            if found is not None:
                return int(found.group(1)), found.group(2) or hostname or address
            return None, hostname or address
        return None

    def check(self) -> None:
        """Raise ``lost`` once another daemon holds the store."""
        if self.lost is not None:
            raise self.lost

    async def release(self) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()  # the server drops the lock with the session

    # -- while the daemon runs -----------------------------------------------------------

    async def _keep(self) -> None:
        while self.lost is None:
            await asyncio.sleep(CHECK_EVERY_S)
            if not await self._alive():
                await self._retake()

    async def _alive(self) -> bool:
        conn = self._conn
        if conn is None:
            return False
        try:
            async with asyncio.timeout(self.connections.options.connect_timeout):
                await conn.execute("SELECT 1")
        except (psycopg.Error, TimeoutError) as exc:
            logger.warning(
                "the claim on %s was lost with its connection (%s); taking it again",
                self.where, one_line(exc) if isinstance(exc, psycopg.Error) else "no answer",
            )  # fmt: skip
            self._conn = None
            await conn.close()
            return False
        return True

    async def _retake(self) -> None:
        """Take the claim again once the server answers. Our own old session may still
        hold it for a while (the server has not noticed it died): wait for that."""
        while True:
            try:
                conn = await self._try()
                if conn is not None:
                    self._conn = conn
                    logger.info("the claim on %s is held again", self.where)
                    return
                holder = await self.holder()
            except (psycopg.Error, OSError) as exc:
                logger.debug("claim on %s not taken yet: %s", self.where, exc)
                await asyncio.sleep(RETAKE_EVERY_S)
                continue
            if holder is not None and holder != _ours():
                self.lost = StoreHeld(self.where, *holder)
                logger.critical(
                    "%s took the store while this daemon's claim was lost: this daemon "
                    "no longer reads or writes it; stop it", self.lost.message,
                )  # fmt: skip
                return
            await asyncio.sleep(RETAKE_EVERY_S)
