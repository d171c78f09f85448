"""A flow run's journal: what it already holds, by key, and writing to it.

A (re)started flow uses the outcome recorded under a key instead of acting again (the
keys are described in ``executor``). Its own module because it is the one place that
knows how entries are written (which waits until durable, which does not), how outcomes
are read back, and how a timer's due time survives a restart.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from seqd.flow.outcome import Outcome, plain
from seqd.model import timeutil
from seqd.model.runs import NewStep, RunError, Step
from seqd.plugins.tasktype import Job


@dataclass
class Recorded:
    """What the journal already says, by key."""

    outcomes: dict[str, Step] = field(default_factory=dict)
    due: dict[str, float] = field(default_factory=dict)
    transitions: set[str] = field(default_factory=set)
    compensations: dict[str, Step] = field(default_factory=dict)

    @classmethod
    def of(cls, steps: list[Step]) -> Recorded:
        recorded = cls()
        for step in steps:
            if step.kind in ("state", "attempt", "item") and step.status in (
                "succeeded",
                "failed",
            ):
                recorded.outcomes[step.key] = step
            elif step.kind in ("timer", "deadline"):
                recorded.due[step.key] = float(step.data["due"])
            elif step.kind == "transition":
                recorded.transitions.add(step.key)
            elif step.kind == "compensate" and step.status != "started":
                recorded.compensations[step.key] = step
        return recorded


def step(kind: str, key: str, name: str, status: str = "", **data: Any) -> NewStep:
    """A journal entry, stamped now."""
    return NewStep(ts=timeutil.now(), kind=kind, key=key, name=name, status=status, data=data)


def outcome_step(kind: str, key: str, name: str, outcome: Outcome, **data: Any) -> NewStep:
    """The journal entry of an outcome (read back by ``Journal.outcome``)."""
    return step(
        kind,
        key,
        name,
        "succeeded" if outcome.ok else "failed",
        output=outcome.output,
        error=plain(outcome.error),
        child_id=outcome.child_id,
        **data,
    )


class Journal:
    """The journal of one execution (attempt) of a flow run."""

    def __init__(self, job: Job, steps: list[Step]) -> None:
        self._job = job
        self.recorded = Recorded.of(steps)
        self._writes: list[asyncio.Future[None]] = []
        """Journal writes in flight that nothing waits for yet (see ``note``)."""

    def outcome(self, key: str) -> Outcome | None:
        """The outcome recorded under ``key``, if any."""
        recorded = self.recorded.outcomes.get(key)
        if recorded is None:
            return None
        error = recorded.data.get("error")
        return Outcome(
            recorded.status == "succeeded",
            recorded.data.get("output"),
            RunError(**error) if isinstance(error, dict) else None,
            recorded.data.get("child_id"),
        )

    async def record(self, *steps: NewStep) -> None:
        """Write to the journal and wait until it is durable (after every earlier
        write): for what exists nowhere else — a tool's result, a timer's due time."""
        await self._settle()
        if steps:
            await self._job.record(list(steps))

    def note(self, *steps: NewStep) -> None:
        """Write to the journal without waiting: a task state's outcome and the
        transition after it. Both are also recoverable from the child run (found again
        through its key), so the flow need not wait for them before going on; the
        writes stay in order and are awaited before the flow ends."""
        self._writes.append(asyncio.ensure_future(self._job.record(list(steps))))

    async def _settle(self) -> None:
        while self._writes:
            writes, self._writes = self._writes, []
            await asyncio.gather(*writes)

    # -- durable timers ---------------------------------------------------------------

    async def due(
        self, key: str, name: str, seconds: float, kind: str = "deadline", **info: Any
    ) -> float:
        """A due time recorded the first time, so a restart keeps counting from then
        (``deadline``: a state's timeout; ``timer``: a wait or a retry delay)."""
        due = self.recorded.due.get(key)
        if due is None:
            due = time.time() + seconds
            self.recorded.due[key] = due
            await self.record(step(kind, key, name, "scheduled", due=due, seconds=seconds, **info))
        return due

    async def sleep(self, key: str, name: str, seconds: float, **info: Any) -> None:
        """Sleep until a recorded timer is due (``seconds`` from when it was first set)."""
        due = await self.due(key, name, seconds, "timer", **info)
        delay = due - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
