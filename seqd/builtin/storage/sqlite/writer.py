"""The SQLite writer: one thread, one connection, grouped commits.

Every write from the event loop becomes an *op* (a function of the connection) queued
here. The thread takes everything queued, runs it in one ``BEGIN IMMEDIATE``
transaction with a SAVEPOINT around each op, commits once, and only then wakes the
loop (``BatchWriter`` of ``seqd.plugins.storage_kit`` does the threading). An op that
fails on its own (a constraint) fails only its own future; a failure of the storage
itself (locked, read-only, full, I/O, see ``faults``) fails the whole batch, since none
of it was committed.

Idle fast path (``durability = normal`` only): when nothing is queued or in flight, a
small write runs at once on the loop, on the same connection, in a transaction the loop
opens and commits at the end of the current loop turn (``call_soon``), so every small
write of one turn shares one commit; while more writes keep joining, it stays open for
up to ``MAX_LOOP_TURNS`` turns. A commit in WAL mode without fsync costs ~60 µs on a
small VM, a round trip through the thread ~150 µs (two thread wake-ups). The loop's
connection never waits for a lock (its ``busy_timeout`` is 0; only the thread raises
it around its own batches): anything unusual (another process holding the write lock,
a storage error, the thread busy) falls back to the queue, and an open loop
transaction that hits a storage error is rolled back and handed to the thread whole.
Checkpoints move off the loop: the connection's automatic checkpoint is off and the
thread checkpoints after every ``CHECKPOINT_EVERY`` commits.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from typing import Any

from seqd.builtin.storage.sqlite.faults import LABEL, is_unavailable, unavailable
from seqd.errors import StorageUnavailable
from seqd.plugins.storage_kit.batch_writer import BatchWriter, Item, Outcome, T

logger = logging.getLogger(__name__)

SMALL_ROWS = 64
SMALL_BYTES = 64 * 1024
"""Writes within these may take the idle fast path (commit on the event loop)."""

LoopItem = tuple[Callable[[Any], Any], "asyncio.Future[Any]", Any]  # (op, future, value)

# After a failed batch the connection is kept only for these (transient contention or
# space); after anything else (read-only, I/O, a corrupt or replaced file, an unknown
# error) it is replaced, since a connection can stay stuck in that state.
KEEP_CONNECTION_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL})

CHECKPOINT_EVERY = 500
"""Commits between two checkpoints (each commit is a page or a few of WAL)."""

MAX_LOOP_TURNS = 4
"""Loop turns a busy loop transaction stays open at most (an idle one commits after one)."""

MAX_BATCH = 4096
"""Ops per transaction at most, so one flood cannot delay every answer behind it."""


def run_op(
    conn: sqlite3.Connection, op: Callable[[Any], Any], savepoint: bool = True
) -> tuple[bool, Any]:
    """Run one op inside the open transaction: ``(True, value)``, or ``(False, exc)``
    when it failed on its own (a constraint) and nothing of it stays — which needs the
    SAVEPOINT unless it is alone in the transaction. Raises when the storage itself
    failed: then the whole transaction must go."""
    if savepoint:
        conn.execute("SAVEPOINT op")
    try:
        value = op(conn)
    except Exception as exc:
        if is_unavailable(exc) or not conn.in_transaction:
            raise
        if savepoint:
            conn.execute("ROLLBACK TO op")
            conn.execute("RELEASE op")
        return False, exc
    if savepoint:
        conn.execute("RELEASE op")
    return True, value


class Writer(BatchWriter[sqlite3.Connection]):
    """Owns the write connection; ``submit`` from the event loop, ``close`` to flush."""

    label = LABEL

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        location: str,
        max_batch: int = MAX_BATCH,
        *,
        inline: bool = False,
        busy_timeout_ms: int = 5000,
    ) -> None:
        super().__init__(location, max_batch)
        self._connect = connect
        self.inline = inline
        self._busy_timeout_ms = busy_timeout_ms
        self._commits = 0
        self.inlined = 0
        """Writes done by the idle fast path (for tests and metrics)."""
        self._loop_batch: list[LoopItem] | None = None
        """Ops run in the loop's open transaction, answered when it commits."""
        self._loop_seen = self._loop_turns = 0
        self.loop_commits = 0
        """Transactions the loop committed (``inlined`` / this = writes per commit)."""
        self._reclaim = False

    def _open(self) -> sqlite3.Connection:
        conn = self._connect()
        conn.execute("PRAGMA wal_autocheckpoint = 0")  # the thread checkpoints
        conn.execute("PRAGMA busy_timeout = 0")  # the loop never waits; the thread sets it
        return conn

    def reclaim(self) -> None:
        """Release the free pages (shrink the file) after the batch in progress: an op
        that deleted much calls it (from the writer thread)."""
        self._reclaim = True

    def _after_batch(self, conn: sqlite3.Connection) -> None:
        if self._reclaim:
            self._reclaim = False
            try:
                # executescript steps the pragma to the end (execute frees one page),
                # outside the batch's transaction: its own, short one.
                conn.executescript("PRAGMA incremental_vacuum;")
            except sqlite3.Error as exc:
                logger.warning("SQLite incremental vacuum of %s failed: %s", self.location, exc)
        self._commits += 1
        if self._commits >= CHECKPOINT_EVERY:
            self._commits = 0
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error as exc:
                logger.warning("SQLite checkpoint of %s failed: %s", self.location, exc)

    def submit(self, op: Callable[[Any], T], inline: bool = True) -> asyncio.Future[T]:
        """Queue ``op``; with ``inline`` (a small write) and an idle thread, run it in
        the loop's own transaction instead, committed at the end of this loop turn."""
        if inline and self.inline and self._pending == 0:
            done = self._on_loop(op)
            if done is not None:
                return done
        return super().submit(op)

    def _on_loop(self, op: Callable[[Any], T]) -> asyncio.Future[T] | None:
        """Run ``op`` in the loop's open transaction (opening one if none is); None to
        queue it instead. Its future resolves when ``_commit_on_loop`` has committed."""
        batch = self._loop_batch
        if batch is None:
            batch = self._begin_on_loop()
            if batch is None:
                return None
        conn = self._resource
        assert conn is not None  # held under _exec_lock since _begin_on_loop
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        first = not batch  # alone in the transaction so far: no savepoint needed
        try:
            ok, value = run_op(conn, op, savepoint=not first)
        except Exception:
            self._abandon_loop_batch(batch)  # the storage is in trouble: the thread takes over
            return None
        if not ok:
            if first:  # the (empty) transaction goes; the next write opens another
                self._abandon_loop_batch(batch)
            fut.set_exception(value)  # fails on its own: nothing of it was written
            return fut
        batch.append((op, fut, value))
        return fut

    def _begin_on_loop(self) -> list[LoopItem] | None:
        if self._closed or self._dead is not None:
            return None
        if not self._exec_lock.acquire(blocking=False):
            return None  # the thread is writing
        conn = self._resource
        if conn is None:  # the thread is reconnecting
            self._exec_lock.release()
            return None
        try:
            conn.execute("BEGIN IMMEDIATE")  # busy_timeout is 0 here: never waits
        except sqlite3.Error:
            self._rollback(conn)
            self._exec_lock.release()
            return None
        self._loop_batch = []
        self._loop_seen, self._loop_turns = 1, 1  # the op about to run is expected
        asyncio.get_running_loop().call_soon(self._commit_on_loop)
        return self._loop_batch

    def _commit_on_loop(self) -> None:
        batch = self._loop_batch
        if batch is None:
            return  # abandoned to the thread
        if len(batch) > self._loop_seen and self._loop_turns < MAX_LOOP_TURNS:
            # Writes joined during the last turn: busy, so wait one more turn for more.
            self._loop_seen, self._loop_turns = len(batch), self._loop_turns + 1
            asyncio.get_running_loop().call_soon(self._commit_on_loop)
            return
        self._loop_batch = None
        conn = self._resource
        assert conn is not None
        try:
            conn.execute("COMMIT")
        except sqlite3.Error:
            self._abandon_loop_batch(batch)
            return
        self._commits += 1  # under the lock: the thread counts too
        checkpoint_due = self._commits >= CHECKPOINT_EVERY
        self._exec_lock.release()
        self.loop_commits += 1
        self.inlined += len(batch)
        for _, fut, value in batch:
            if not fut.done():  # a cancelled waiter: the write happened all the same
                fut.set_result(value)
        if checkpoint_due:
            super().submit(lambda _conn: None)  # wakes the thread, which checkpoints

    def _abandon_loop_batch(self, batch: list[LoopItem]) -> None:
        """Roll the loop's transaction back and hand its ops to the thread, in order."""
        self._loop_batch = None
        conn = self._resource
        if conn is not None:
            self._rollback(conn)
        self._exec_lock.release()
        for op, fut, _ in batch:
            try:
                self._enqueue(op, fut)
            except StorageUnavailable as exc:
                fut.set_exception(exc)

    def _close(self, conn: sqlite3.Connection) -> None:
        conn.close()

    def _execute(self, conn: sqlite3.Connection, batch: list[Item]) -> sqlite3.Connection:
        """Run one batch in one transaction; a fresh connection if this one is stuck."""
        outcomes: list[Outcome] = []
        healthy = True
        try:
            # The thread may wait for another process's lock (the loop never does).
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            conn.execute("BEGIN IMMEDIATE")
            for op, fut in batch:
                ok, value = run_op(conn, op)
                outcomes.append((fut, value, ok))
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
        try:
            conn.execute("PRAGMA busy_timeout = 0")
        except sqlite3.Error:
            healthy = False
        self._deliver(outcomes)
        if healthy:
            return conn
        logger.info("reopening the SQLite write connection to %s", self.location)
        conn.close()
        return self._open()

    def _rollback(self, conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                logger.exception("ROLLBACK failed on %s", self.location)
