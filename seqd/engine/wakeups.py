"""When suspended runs wake: one timer for all durable sleeps, and who waits for what.

A suspended run holds no worker and no task; what remains of it in memory is an entry
here (its id in a heap of due times, or in a map of runs and signals waited for), so
ten thousand sleeping runs cost a few megabytes and no CPU: only the earliest due time
has a loop timer. Entries are hints, never the truth: the run record in storage is
(status ``suspended``, ``wake_at``, ``waiting_for``), and waking a run that is no longer
suspended does nothing. Spurious wake-ups are allowed by the contract (a woken run
replays and suspends again).

Its own module because it is the bookkeeping only (timers and who waits for what);
what a wake-up does to a run is ``suspension``'s.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections import defaultdict
from collections.abc import Callable


class Wakeups:
    def __init__(self, wake: Callable[[str, str], None]) -> None:
        self._wake = wake
        """``wake(run_id, why)``: schedules the engine's wake-up of that run."""
        self._due: list[tuple[float, str]] = []
        self._alarm: asyncio.TimerHandle | None = None
        self._alarm_at: float | None = None
        self.on_run: defaultdict[str, set[str]] = defaultdict(set)
        """Run id → the suspended runs waiting for it to end."""
        self.signalled: defaultdict[str, set[str]] = defaultdict(set)
        """Run id → signal names that arrived while it was not suspended (so a run
        that suspends for one of them right after is woken at once)."""

    def __len__(self) -> int:
        return len(self._due) + sum(len(v) for v in self.on_run.values())

    # -- timers ---------------------------------------------------------------------------

    def at(self, run_id: str, when: float) -> None:
        heapq.heappush(self._due, (when, run_id))
        if self._alarm_at is None or when < self._alarm_at:
            self._arm()

    def _arm(self) -> None:
        if self._alarm is not None:
            self._alarm.cancel()
            self._alarm = self._alarm_at = None
        if not self._due:
            return
        when = self._due[0][0]
        loop = asyncio.get_running_loop()
        delay = max(0.0, when - time.time())
        self._alarm = loop.call_at(loop.time() + delay, self._ring)
        self._alarm_at = when

    def _ring(self) -> None:
        self._alarm = self._alarm_at = None
        now = time.time()
        while self._due and self._due[0][0] <= now + 0.001:
            _, run_id = heapq.heappop(self._due)
            self._wake(run_id, "timer")
        self._arm()

    # -- runs and signals -------------------------------------------------------------------

    def ended(self, run_id: str) -> None:
        """A run ended: wake those waiting for it."""
        for waiter in self.on_run.pop(run_id, ()):
            self._wake(waiter, f"run {run_id} ended")
        self.signalled.pop(run_id, None)

    def stop(self) -> None:
        if self._alarm is not None:
            self._alarm.cancel()
        self._alarm = self._alarm_at = None
