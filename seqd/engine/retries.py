"""Retry back-off: a failed attempt whose task allows another is queued again at once
(durably, with its attempt number raised) and waits in memory for its back-off timer
before it is handed back to the queue; a start that storage refused waits the same way.

Its own module because the timers outlive the execution that set them: cancelling a
queued run and shutting down reach them here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from msgspec.structs import replace

from seqd.model.runs import Run

from .transitions import Measured, Transitions


class Retries:
    def __init__(self, transitions: Transitions, hand_off: Callable[[Run], None]) -> None:
        self._transitions = transitions
        self._hand_off = hand_off
        """``hand_off(run)``: puts a queued run in line and starts what can start."""
        self._timers: dict[str, asyncio.TimerHandle] = {}
        """Back-off timers of queued runs, by run id."""

    async def again(self, run: Run, delay: float, job: Measured) -> None:
        """Queue the next attempt of the running ``run``; it is handed back after
        ``delay`` seconds."""
        again = replace(
            run,
            status="queued",
            attempt=run.attempt + 1,
            pid=None,
            resources=job.resources,
            running_s=job.running_s,
        )
        if not await self._transitions.store(again, ("running",)):
            return
        self._transitions.live[run.id] = again
        self._transitions.emit(again, "running", "retry")
        self.later(run.id, delay)

    def later(self, run_id: str, delay: float) -> None:
        """Hand the queued run back to the queue in ``delay`` seconds."""
        self._timers[run_id] = asyncio.get_running_loop().call_later(delay, self._release, run_id)

    def _release(self, run_id: str) -> None:
        self._timers.pop(run_id, None)
        run = self._transitions.live.get(run_id)
        if run is not None and run.status == "queued":
            self._hand_off(run)

    def forget(self, run_id: str) -> None:
        """The run is no longer waiting (it was cancelled): no hand-back."""
        timer = self._timers.pop(run_id, None)
        if timer is not None:
            timer.cancel()

    def stop(self) -> None:
        """Shutdown: nothing is handed back any more."""
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
