"""The SQLite writer: one thread, one connection, grouped commits.

Every write from the event loop becomes an *op* (a function of the connection) queued
here. The thread takes everything queued, runs it in one ``BEGIN IMMEDIATE``
transaction with a SAVEPOINT around each op, commits once, and only then wakes the
loop — one ``call_soon_threadsafe`` per batch — so an awaited write is on disk (per the
``synchronous`` setting) before anyone hears of it, and a thousand writers cost one
commit. An op that fails on its own (a constraint) fails only its own future; a failure
of the storage itself (locked, read-only, full, I/O) fails the whole batch, since none
of it was committed. If the thread ever dies, the waiting futures fail, the next
submit fails with ``StorageUnavailable`` and starts a fresh thread.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from seqd.errors import StorageUnavailable

logger = logging.getLogger(__name__)

T = TypeVar("T")
Op = Callable[[sqlite3.Connection], Any]
_Item = tuple[Op, "asyncio.Future[Any]"]
_Outcome = tuple["asyncio.Future[Any]", Any, bool]  # (future, value or exception, ok)

# Primary result codes that describe the storage, not the statement: the condition may
# pass (a lock is released, space is freed), so the caller gets StorageUnavailable.
UNAVAILABLE_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
        sqlite3.SQLITE_NOTADB,
    }
)

# After a failed batch the connection is kept only for these (transient contention or
# space); after anything else (read-only, I/O, a corrupt or replaced file, an unknown
# error) it is replaced, since a connection can stay stuck in that state.
KEEP_CONNECTION_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL})

MAX_BATCH = 4096
"""Ops per transaction at most, so one flood cannot delay every answer behind it."""


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the storage (not the op) is in trouble."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is None:
            return isinstance(exc, sqlite3.OperationalError)
        return (code & 0xFF) in UNAVAILABLE_CODES
    return isinstance(exc, OSError)


def unavailable(exc: BaseException, location: str) -> StorageUnavailable:
    details: dict[str, Any] = {"location": location}
    name = getattr(exc, "sqlite_errorname", None)
    if name:
        details["sqlite_error"] = name
    return StorageUnavailable(f"SQLite storage at {location} is unavailable: {exc}", details)


def _resolve(outcomes: list[_Outcome]) -> None:
    for fut, value, ok in outcomes:
        if fut.done():  # the waiter was cancelled; the write happened all the same
            continue
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(value)


class Writer:
    """Owns the write connection; ``submit`` from the event loop, ``close`` to flush."""

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        location: str,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._connect = connect
        self.location = location
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._dead: str | None = None
        self._inflight: list[_Item] = []
        self._thread: threading.Thread | None = None
        self.batches = 0
        """Transactions committed or attempted (for metrics and tests)."""
        self.ops = 0

    def start(self) -> None:
        with self._lock:
            self._start_locked()

    def _start_locked(self) -> None:
        self._dead = None
        self._queue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="seqd-sqlite-writer", daemon=True)
        self._thread.start()

    def submit(self, op: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """Queue ``op``; the future resolves once its transaction is committed.

        Must be called from a running event loop. Cancelling the future does not undo
        the write.
        """
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        with self._lock:
            if self._closed:
                raise StorageUnavailable(
                    f"SQLite storage at {self.location} is closed", {"location": self.location}
                )
            if self._dead is not None or self._thread is None:
                reason = self._dead or "it was never started"
                self._start_locked()
                raise StorageUnavailable(
                    f"SQLite writer for {self.location} had stopped ({reason}); restarted it",
                    {"location": self.location},
                )
            self._queue.put((op, fut))
        return fut

    async def close(self) -> None:
        """Commit everything queued so far, then stop the thread and its connection."""
        with self._lock:
            thread = self._thread
            if not self._closed:
                self._closed = True
                self._queue.put(None)
        if thread is not None:
            await asyncio.to_thread(thread.join)

    # -- the thread ----------------------------------------------------------------

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        reason = "it stopped"
        try:
            conn = self._connect()
            while True:
                stop = self._take()
                if self._inflight:
                    healthy = self._execute(conn, self._inflight)
                    self._inflight = []
                    if not healthy:
                        logger.info("reopening the SQLite write connection to %s", self.location)
                        conn.close()
                        conn = self._connect()
                if stop:
                    reason = "it was closed"
                    return
        except BaseException as exc:  # even SystemExit: the loop side must hear of it
            reason = f"{type(exc).__name__}: {exc}"
            logger.exception("SQLite writer for %s died", self.location)
        finally:
            self._die(reason)
            if conn is not None:
                try:
                    conn.close()
                except sqlite3.Error:
                    logger.exception("closing the SQLite write connection failed")

    def _take(self) -> bool:
        """Fill ``_inflight`` with what is queued (waiting for the first); True on stop."""
        item = self._queue.get()
        while item is not None:
            self._inflight.append(item)
            if len(self._inflight) >= self._max_batch:
                return False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return False
        return True

    def _execute(self, conn: sqlite3.Connection, batch: list[_Item]) -> bool:
        """Run one batch in one transaction; False if the connection should be replaced."""
        self.batches += 1
        self.ops += len(batch)
        outcomes: list[_Outcome] = []
        healthy = True
        try:
            conn.execute("BEGIN IMMEDIATE")
            for op, fut in batch:
                conn.execute("SAVEPOINT op")
                try:
                    value = op(conn)
                except Exception as exc:
                    if is_unavailable(exc) or not conn.in_transaction:
                        raise
                    conn.execute("ROLLBACK TO op")
                    outcomes.append((fut, exc, False))
                else:
                    outcomes.append((fut, value, True))
                conn.execute("RELEASE op")
            conn.execute("COMMIT")
        except Exception as exc:
            if not is_unavailable(exc):
                logger.exception("SQLite write batch failed on %s", self.location)
            else:
                logger.warning("SQLite write batch failed on %s: %s", self.location, exc)
            self._rollback(conn)
            code = getattr(exc, "sqlite_errorcode", None)
            healthy = code is not None and (code & 0xFF) in KEEP_CONNECTION_CODES
            outcomes = [(fut, unavailable(exc, self.location), False) for _, fut in batch]
        self._deliver(outcomes)
        return healthy

    def _rollback(self, conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                logger.exception("ROLLBACK failed on %s", self.location)

    def _deliver(self, outcomes: list[_Outcome]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
        for outcome in outcomes:
            by_loop.setdefault(outcome[0].get_loop(), []).append(outcome)
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve, items)
            except RuntimeError:
                pass  # that loop is closed: nobody is waiting any more

    def _die(self, reason: str) -> None:
        """Fail every op not yet answered, so no caller waits forever."""
        with self._lock:
            self._dead = reason
            pending = self._inflight
            self._inflight = []
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    pending.append(item)
        message = f"SQLite writer for {self.location} stopped ({reason})"
        self._deliver(
            [
                (fut, StorageUnavailable(message, {"location": self.location}), False)
                for _, fut in pending
            ]
        )
