"""The in-memory run queue: priority first, then submission order, with per-task
concurrency limits that never block runs of other tasks.

Its own module because it is a plain data structure (no I/O, no asyncio), used twice
by the engine's hand-off and tested alone.
"""

from __future__ import annotations

import heapq
import itertools
from collections import defaultdict, deque
from collections.abc import Callable


class RunQueue:
    """Runs waiting for a worker slot. ``pop`` skips (parks) runs whose task is at its
    concurrency limit; ``release(task)`` puts that task's parked runs back in line."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, str, str]] = []
        self._parked: dict[str, deque[tuple[int, int, str, str]]] = defaultdict(deque)
        self._removed: set[str] = set()
        self._members: set[str] = set()
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, run_id: str) -> bool:
        return run_id in self._members

    def push(self, run_id: str, task: str, priority: int = 0) -> None:
        if run_id in self._members:
            return
        self._removed.discard(run_id)
        self._members.add(run_id)
        heapq.heappush(self._heap, (-priority, next(self._seq), run_id, task))

    def remove(self, run_id: str) -> bool:
        if run_id not in self._members:
            return False
        self._members.discard(run_id)
        self._removed.add(run_id)
        return True

    def pop(self, saturated: Callable[[str], bool]) -> tuple[str, str] | None:
        """Next runnable (run_id, task), or None."""
        while self._heap:
            item = heapq.heappop(self._heap)
            _, _, run_id, task = item
            if run_id in self._removed:
                self._removed.discard(run_id)
                continue
            if saturated(task):
                self._parked[task].append(item)
                continue
            self._members.discard(run_id)
            return run_id, task
        return None

    def release(self, task: str) -> None:
        parked = self._parked.pop(task, None)
        if parked:
            for item in parked:
                heapq.heappush(self._heap, item)
