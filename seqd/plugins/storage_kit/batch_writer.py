"""One writer thread that runs queued writes in batches, for backends on a blocking
library (the SQLite and file stores use it). Its own module: the threading (queue,
batches, delivery to the loop, dying loudly) is the same whatever a batch does.

Writes from the event loop become *ops* queued here. The thread takes everything
queued (up to ``max_batch``), hands the batch to the subclass's ``_execute`` (one
transaction, or one round of file renames and directory syncs), and wakes each waiting
loop once per batch with ``call_soon_threadsafe``. So an awaited write is done before
anyone hears of it, and a burst of writers pays for one commit and one wake-up. If the
thread ever dies, every waiting future fails, and the next ``submit`` fails with
``StorageUnavailable`` and starts a new thread.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from seqd.errors import StorageUnavailable
from seqd.plugins.storage_kit.errors import not_open

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
Item = tuple[Callable[[Any], Any], "asyncio.Future[Any]"]
Outcome = tuple["asyncio.Future[Any]", Any, bool]  # (future, value or exception, ok)


def _resolve(outcomes: list[Outcome]) -> None:
    for fut, value, ok in outcomes:
        if fut.done():  # the waiter was cancelled; the write happened all the same
            continue
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(value)


class BatchWriter(ABC, Generic[R]):
    """Owns the writing thread and the resource its ops get (a connection, or a
    per-batch object). ``submit`` from the event loop, ``close`` to flush and stop.

    Subclasses implement ``_open`` (make the resource, in the thread), ``_execute``
    (run one batch, deliver its outcomes, return the resource to go on with) and
    ``_close`` (release the resource)."""

    label = "storage"
    """How messages name the store, e.g. ``SQLite storage``."""

    def __init__(self, location: str, max_batch: int) -> None:
        self.location = location
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Item | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._dead: str | None = None
        self._inflight: list[Item] = []
        self._thread: threading.Thread | None = None
        self._pending = 0
        """Ops submitted and not yet answered on the loop (touched on the loop only)."""
        self._exec_lock = threading.Lock()
        """Held by the thread while it uses the resource (a batch, upkeep), so the loop
        may use it directly only when the thread is idle (see ``SQLite Writer``)."""
        self._resource: R | None = None
        self.batches = 0
        """Batches run (for metrics and tests)."""
        self.ops = 0

    # -- the loop side -----------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            self._start_locked()

    def _start_locked(self) -> None:
        self._dead = None
        self._queue = queue.SimpleQueue()
        name = f"seqd-{self.label.split()[0].lower()}-writer"
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, op: Callable[[Any], T]) -> asyncio.Future[T]:
        """Queue ``op``; the future resolves once its batch is done. Must be called
        from a running event loop. Cancelling the future does not undo the write."""
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._enqueue(op, fut)
        return fut

    def _enqueue(self, op: Callable[[Any], Any], fut: asyncio.Future[Any]) -> None:
        """Queue ``op`` to answer ``fut`` (raises StorageUnavailable if it cannot)."""
        with self._lock:
            if self._closed:
                raise not_open(self.label, self.location, True, {"location": self.location})
            if self._dead is not None or self._thread is None:
                reason = self._dead or "it was never started"
                self._start_locked()
                raise StorageUnavailable(
                    f"{self.label} writer for {self.location} had stopped ({reason}); restarted it",
                    {"location": self.location},
                )
            self._queue.put((op, fut))
            self._pending += 1

    async def close(self) -> None:
        """Run everything queued so far, then stop the thread."""
        with self._lock:
            thread = self._thread
            if not self._closed:
                self._closed = True
                self._queue.put(None)
        if thread is not None:
            await asyncio.to_thread(thread.join)

    # -- the thread --------------------------------------------------------------------

    @abstractmethod
    def _open(self) -> R:
        """Make the resource ops get (in the writer thread)."""

    @abstractmethod
    def _execute(self, resource: R, batch: list[Item]) -> R:
        """Run one batch and ``_deliver`` its outcomes; return the resource to go on
        with (a fresh one if this one is stuck)."""

    def _close(self, resource: R) -> None:
        """Release the resource; nothing by default."""

    def _after_batch(self, resource: R) -> None:
        """Upkeep after a batch, in the thread, holding the resource; nothing by default."""

    def _run(self) -> None:
        reason = "it stopped"
        resource: R | None = None
        opened = False
        try:
            resource = self._open()
            opened = True
            self._resource = resource
            while True:
                stop = self._take()
                if self._inflight:
                    self.batches += 1
                    self.ops += len(self._inflight)
                    with self._exec_lock:
                        resource = self._execute(resource, self._inflight)
                        self._resource = resource
                        self._after_batch(resource)
                    self._inflight = []
                if stop:
                    reason = "it was closed"
                    return
        except BaseException as exc:  # even SystemExit: the loop side must hear of it
            reason = f"{type(exc).__name__}: {exc}"
            logger.exception("%s writer for %s died", self.label, self.location)
        finally:
            with self._exec_lock:
                self._resource = None
            self._die(reason)
            if opened:
                try:
                    self._close(resource)  # type: ignore[arg-type]
                except Exception:
                    logger.exception("closing the %s writer failed", self.label)

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

    def _deliver(self, outcomes: list[Outcome]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
        for outcome in outcomes:
            by_loop.setdefault(outcome[0].get_loop(), []).append(outcome)
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(self._answered, items)
            except RuntimeError:
                pass  # that loop is closed: nobody is waiting any more

    def _answered(self, outcomes: list[Outcome]) -> None:
        """On the loop: these ops are answered (committed or failed)."""
        self._pending -= len(outcomes)
        _resolve(outcomes)

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
        message = f"{self.label} writer for {self.location} stopped ({reason})"
        error = StorageUnavailable(message, {"location": self.location})
        self._deliver([(fut, error, False) for _, fut in pending])
