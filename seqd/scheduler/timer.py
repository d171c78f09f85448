"""One loop timer for every schedule: a heap of due times, armed for the earliest.

Its own module because it is the bookkeeping only, like ``seqd.engine.wakeups`` for
durable sleeps: ten thousand schedules cost a heap entry each and no CPU, since only
the earliest due time has a loop timer, and nothing wakes up between fires. ``set``
moves a schedule's due time (the old heap entry is left to be skipped when it comes
up), ``clear`` drops it. Due times are wall-clock epoch seconds, turned into a delay on
the loop's clock when armed; a ring that finds the wall clock short of the due time
(it was stepped back) arms again instead of firing early.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable


class Alarm:
    def __init__(self, ring: Callable[[list[str]], None]) -> None:
        self._ring_cb = ring
        """``ring(names)``: these schedules are due."""
        self._heap: list[tuple[float, int, str]] = []
        self._due: dict[str, tuple[float, int]] = {}
        """Name → (due time, its heap entry's sequence number): the live entry."""
        self._seq = itertools.count()
        self._handle: asyncio.TimerHandle | None = None
        self._armed_for: float | None = None
        self._stopped = False
        self.rings = 0
        """Times the loop timer went off (for tests: no ring between fires)."""

    def __len__(self) -> int:
        return len(self._due)

    def due(self, name: str) -> float | None:
        entry = self._due.get(name)
        return None if entry is None else entry[0]

    def set(self, name: str, when: float) -> None:
        if self._stopped:
            return
        seq = next(self._seq)
        self._due[name] = (when, seq)
        heapq.heappush(self._heap, (when, seq, name))
        if self._armed_for is None or when < self._armed_for:
            self._arm()
        if len(self._heap) > 2 * len(self._due) + 64:
            self._compact()

    def clear(self, name: str) -> None:
        self._due.pop(name, None)

    def _compact(self) -> None:
        """Drop the stale entries left by ``set`` and ``clear``."""
        self._heap = [(when, seq, name) for name, (when, seq) in self._due.items()]
        heapq.heapify(self._heap)

    def _live(self, entry: tuple[float, int, str]) -> bool:
        when, seq, name = entry
        return self._due.get(name) == (when, seq)

    def _arm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = self._armed_for = None
        while self._heap and not self._live(self._heap[0]):
            heapq.heappop(self._heap)
        if not self._heap:
            return
        when = self._heap[0][0]
        loop = asyncio.get_running_loop()
        self._handle = loop.call_at(loop.time() + max(0.0, when - time.time()), self._on_timer)
        self._armed_for = when

    def _on_timer(self) -> None:
        self._handle = self._armed_for = None
        self.rings += 1
        now = time.time()
        due: list[str] = []
        while self._heap and self._heap[0][0] <= now:
            entry = heapq.heappop(self._heap)
            if self._live(entry):
                del self._due[entry[2]]
                due.append(entry[2])
        self._arm()
        if due:
            self._ring_cb(due)

    def stop(self) -> None:
        """Ring no more (``set`` is ignored from now on)."""
        self._stopped = True
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self._armed_for = None
