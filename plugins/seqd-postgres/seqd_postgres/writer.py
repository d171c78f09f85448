"""Group commit: writes issued while a batch is in flight share the next transaction.

One writer task takes every write queued so far (up to ``max_batch``) and sends the
batch as ``BEGIN; statement...; COMMIT`` in pipeline mode: one round trip and one WAL
flush for the lot, where single writes would pay one of each. This is where the
throughput comes from: about twice as many runs per second with 8 concurrent
submitters. One writer keeps the order writes were issued in, as the SQLite backend's
writer thread does. A lone write goes out as one autocommit statement.

A batch that fails because of one of its writes (a unique violation, a value
PostgreSQL refuses, a deadlock with another node) was rolled back whole, so each write
is then tried again on its own and gets its own outcome. A lost connection or a
time-out fails the whole batch: whether its commit happened cannot be known.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import AsyncConnection, AsyncCursor
from psycopg import errors as pgerrors
from psycopg.rows import TupleRow

logger = logging.getLogger(__name__)

Conn = AsyncConnection[TupleRow]
Borrow = Callable[[], AbstractAsyncContextManager[Conn]]


@dataclass(eq=False, slots=True)
class Write:
    query: str
    params: Any
    value: bool
    """True: the result is the first column of the first row; False: the row count."""
    future: asyncio.Future[Any]


def write_specific(exc: BaseException) -> bool:
    """Whether a batch failed because of one of its writes (so each should be tried
    alone) rather than because the store went away (so all fail)."""
    if isinstance(exc, pgerrors.TransactionRollback | pgerrors.PipelineAborted):
        return True  # deadlock or serialization failure: the batch was rolled back
    return isinstance(exc, psycopg.Error) and not isinstance(
        exc, psycopg.OperationalError | psycopg.InterfaceError
    )


async def _result(write: Write, cur: AsyncCursor[TupleRow]) -> Any:
    if not write.value:
        return cur.rowcount
    row = await cur.fetchone()
    return None if row is None else row[0]


class Writer:
    """The single writer task of one backend."""

    def __init__(self, borrow: Borrow, batch_timeout_s: float, max_batch: int = 64) -> None:
        self._borrow = borrow
        self._batch_timeout_s = batch_timeout_s
        self._max_batch = max_batch
        self._queue: deque[Write] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopped_by: BaseException | None = None
        self.batches = 0
        """Transactions sent so far (a lone write counts as one)."""

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="seqd-postgres-writer")

    async def stop(self, error: BaseException) -> None:
        """Stop the task; writes still queued fail with ``error`` (none is sent)."""
        self._stopped_by = error
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        while self._queue:
            write = self._queue.popleft()
            if not write.future.done():
                write.future.set_exception(error)

    def submit(self, query: str, params: Any, value: bool = False) -> asyncio.Future[Any]:
        """Queue a write; the future resolves after its transaction committed.
        Cancelling the future before its batch is taken keeps it from being sent."""
        if self._task is None or self._task.done():
            raise RuntimeError("the writer is not running")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append(Write(query, params, value, future))
        self._wakeup.set()
        return future

    async def _loop(self) -> None:
        while True:
            await self._wakeup.wait()
            batch: list[Write] = []
            while self._queue and len(batch) < self._max_batch:
                write = self._queue.popleft()
                if not write.future.done():  # its caller gave up while it was queued
                    batch.append(write)
            if not self._queue:
                self._wakeup.clear()
            if batch:
                await self._run(batch)

    async def _run(self, batch: list[Write]) -> None:
        try:
            async with asyncio.timeout(self._batch_timeout_s), self._borrow() as conn:
                results = await self._execute(conn, batch)
        except asyncio.CancelledError:
            for write in batch:  # stopped mid-batch: whether it committed is unknown
                if not write.future.done():
                    if self._stopped_by is None:
                        write.future.cancel()
                    else:
                        write.future.set_exception(self._stopped_by)
            raise
        except Exception as exc:
            if len(batch) > 1 and write_specific(exc):
                logger.debug("a batch of %d failed (%s); writing each alone", len(batch), exc)
                for write in batch:
                    await self._run([write])
                return
            for write in batch:
                if not write.future.done():
                    write.future.set_exception(exc)
            return
        for write, result in zip(batch, results, strict=True):
            if not write.future.done():
                write.future.set_result(result)

    async def _execute(self, conn: Conn, batch: list[Write]) -> list[Any]:
        self.batches += 1
        if len(batch) == 1:
            write = batch[0]
            return [await _result(write, await conn.execute(write.query, write.params))]
        async with conn.pipeline(), conn.transaction():
            cursors = [await conn.execute(w.query, w.params) for w in batch]
        return [await _result(w, cur) for w, cur in zip(batch, cursors, strict=True)]
