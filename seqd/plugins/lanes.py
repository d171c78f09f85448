"""Delivering trace events to one tracer: a bounded queue and a thread of its own.

Each tracer gets a ``TracerLane``. The event loop only appends to the lane's queue (a
deque append and, when the thread sleeps, one wake-up); the lane's thread hands the
events to ``on_event`` in order. So a slow tracer — one that writes a file, or sends
spans over the network — never slows a run or the loop, and a failing one never
stops another. When a tracer falls behind by ``capacity`` events, further events are
dropped and counted (``daemon.status`` shows it) rather than held: memory stays
bounded whatever a tracer does.

Its own module because the rule is the same for every tracer, built-in or plugin,
and the host only routes events by type.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

logger = logging.getLogger(__name__)

CAPACITY = 10_000
"""Events a lane holds for a tracer that is behind before it drops new ones."""
LINGER_S = 0.002
"""After a wake-up the thread waits this long so a burst is delivered as one batch:
a busy daemon wakes each tracer's thread a few hundred times a second at most."""


class TracerLane:
    """The queue and delivery thread of one tracer (``tracer.on_event``)."""

    def __init__(self, tracer: Any, capacity: int = CAPACITY, linger_s: float = LINGER_S) -> None:
        self.tracer = tracer
        self.name: str = tracer.name
        self._capacity = capacity
        self._linger_s = linger_s
        self._queue: deque[Any] = deque()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closing = False
        self.accepted = 0
        self.dropped = 0
        self.delivered = 0
        self.failed = 0
        """Events whose ``on_event`` raised (logged, then skipped)."""

    def put(self, event: Any) -> None:
        """Queue ``event`` (from the loop); dropped and counted when the lane is full."""
        if len(self._queue) >= self._capacity or self._closing:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 10_000 == 0:
                logger.warning(
                    "tracer %s is behind: %d event(s) dropped so far", self.name, self.dropped
                )
            return
        self.accepted += 1
        self._queue.append(event)
        if self._thread is None:
            self._start()
        if not self._wake.is_set():
            self._wake.set()

    def stats(self) -> dict[str, int]:
        return {
            "queued": len(self._queue),
            "delivered": self.delivered,
            "dropped": self.dropped,
            "failed": self.failed,
        }

    def flush(self, timeout: float) -> bool:
        """Wait until every accepted event was handed over; False on timeout."""
        deadline = time.monotonic() + timeout
        while self.delivered + self.failed < self.accepted:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.001)
        return True

    def close(self, timeout: float) -> None:
        """Deliver what is queued (for up to ``timeout`` seconds), then stop the thread.
        Events still queued then are counted as dropped."""
        self._closing = True
        thread = self._thread
        if thread is not None:
            self._wake.set()
            thread.join(timeout)
        left = len(self._queue)
        if left:
            self._queue.clear()
            self.dropped += left
            logger.warning("tracer %s: %d event(s) not delivered at shutdown", self.name, left)

    # -- the lane's thread ---------------------------------------------------------------

    def _start(self) -> None:
        self._thread = threading.Thread(
            target=self._deliver, name=f"seqd-tracer-{self.name}", daemon=True
        )
        self._thread.start()

    def _deliver(self) -> None:
        queue = self._queue
        on_event = self.tracer.on_event
        while True:
            self._wake.wait()
            if self._linger_s and not self._closing:
                time.sleep(self._linger_s)
            self._wake.clear()
            while queue:
                event = queue.popleft()
                try:
                    on_event(event)
                    self.delivered += 1
                except Exception:
                    self.failed += 1
                    logger.exception("tracer %s failed on %s", self.name, type(event).__name__)
            if self._closing:
                return
