"""The SQLite store's connections: how one is opened, the file's preparation at open,
and the reader threads' own connections.

Its own module because every connection (the writer's, each reader's, the one that
migrates) must be opened alike, with our pragmas, and because a reader connection's
life (opened on first use in its thread, dropped when the storage fails under it,
closed with the store) has nothing to do with what the backend's calls ask of it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from typing import Protocol, TypeVar

from seqd.builtin.storage.sqlite.faults import is_unavailable, unavailable
from seqd.builtin.storage.sqlite.schema import migrate
from seqd.errors import StorageUnavailable

T = TypeVar("T")
logger = logging.getLogger(__name__)

INCREMENTAL = 2
"""``PRAGMA auto_vacuum``'s value for incremental auto-vacuum."""
VACUUM_AT_OPEN_BYTES = 64 * 1024 * 1024
"""Largest existing file switched to incremental auto-vacuum at open (a ``VACUUM``
rewrites it: about a second for this size on a small VM)."""


class Connect(Protocol):
    def __call__(self, query_only: bool = False) -> sqlite3.Connection: ...


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


def prepare(connect: Connect, location: str) -> None:
    """Create the directory and file, switch to WAL and incremental auto-vacuum,
    migrate (blocking: in a thread)."""
    try:
        os.makedirs(os.path.dirname(location) or ".", exist_ok=True)
        conn = connect()
    except (OSError, sqlite3.Error) as exc:
        raise unavailable(exc, location) from exc
    try:
        # Before WAL and the first table: only a new file takes it this way.
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StorageUnavailable(
                f"SQLite storage at {location} cannot use WAL journal mode (got "
                f"{mode!r}); the file system may not support it",
                {"location": location},
            )
        migrate(conn, where=location)
        _incremental_vacuum(conn, location)
    except sqlite3.Error as exc:
        if is_unavailable(exc):
            raise unavailable(exc, location) from exc
        raise
    finally:
        conn.close()


def _incremental_vacuum(conn: sqlite3.Connection, location: str) -> None:
    """Turn a file made before seqd used incremental auto-vacuum to it, so that pruned
    runs give their space back. That takes a ``VACUUM`` (a rewrite of the file): done at
    open for a file of up to ``VACUUM_AT_OPEN_BYTES``; a larger one is left as it is
    (its free pages are reused, the file does not shrink) and the log says how."""
    if int(conn.execute("PRAGMA auto_vacuum").fetchone()[0]) == INCREMENTAL:
        return
    size = os.path.getsize(location)
    if size > VACUUM_AT_OPEN_BYTES:
        logger.warning(
            "SQLite storage at %s (%d MiB) was made without incremental auto-vacuum: pruned "
            "runs leave free pages that are reused, but the file does not shrink. To "
            "change it once, stop seqd and run: sqlite3 %s 'PRAGMA auto_vacuum = "
            "INCREMENTAL; VACUUM;'", location, size >> 20, location,
        )  # fmt: skip
        return
    logger.info("SQLite storage at %s: turning on incremental auto-vacuum (VACUUM)", location)
    try:
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("VACUUM")
    except sqlite3.Error as exc:  # busy (a reader), read-only...: next time, then
        logger.warning("SQLite storage at %s: VACUUM failed: %s", location, exc)


class ReaderConnections:
    """One query-only connection per reader thread, opened on its first read."""

    def __init__(self, connect: Connect, location: str) -> None:
        self._connect = connect
        self._location = location
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on this thread's own connection (in a reader thread)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        try:
            if conn is None:
                conn = self._connect(query_only=True)
                self._local.conn = conn
                with self._lock:
                    self._conns.append(conn)
            return fn(conn)
        except sqlite3.Error as exc:
            if not is_unavailable(exc):
                raise
            if conn is not None:  # start afresh next time: the file may have been replaced
                self._local.conn = None
                with self._lock:
                    if conn in self._conns:
                        self._conns.remove(conn)
                conn.close()
            raise unavailable(exc, self._location) from exc

    def close(self) -> None:
        """Close every reader's connection (once the readers have stopped)."""
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()
