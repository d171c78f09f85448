"""Compensation (saga): when a flow fails, undo the states that did work, newest first.

Each acting state with ``compensate`` that succeeded is remembered; on failure its
compensating task runs as a child run (input rendered with ``$.result``, that state's
output), once: a compensation already recorded is not run again after a restart. Its
own module because it runs after the walk, on its own keys (``<state key>!``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from seqd.flow.cancelscope import Scope
from seqd.flow.data import Data, render_input
from seqd.flow.effects import run_child
from seqd.flow.graph import Acting
from seqd.flow.journal import Journal, step
from seqd.flow.outcome import Outcome, StateFailed, plain
from seqd.model import timeutil
from seqd.plugins.tasktype import Job


@dataclass
class Completed:
    """A state that did work, for compensation in reverse order."""

    key: str
    name: str
    state: Acting
    output: Any


class Saga:
    """The compensations of one flow execution."""

    def __init__(self, job: Job, journal: Journal) -> None:
        self._job = job
        self._journal = journal
        self._completed: list[Completed] = []

    def succeeded(self, key: str, name: str, state: Acting, output: Any) -> None:
        """Remember a state that succeeded, if it has something to compensate."""
        if state.compensate is not None:
            self._completed.append(Completed(key, name, state, output))

    async def compensate(self, data: Data, scope: Scope) -> None:
        """Run the compensations not yet recorded, newest first."""
        for done in reversed(self._completed):
            comp = done.state.compensate
            assert comp is not None
            ckey = f"{done.key}!"
            if ckey in self._journal.recorded.compensations:
                continue
            started = timeutil.now()
            try:
                payload = render_input(
                    comp.input, {**data, "result": done.output}, "compensate.input"
                )
            except StateFailed as exc:
                outcome = Outcome(False, error=exc.error)
            else:
                outcome = await run_child(self._job, comp.task, payload, ckey, scope, ckey)
            await self._journal.record(
                step(
                    "compensate",
                    ckey,
                    done.name,
                    "succeeded" if outcome.ok else "failed",
                    task=comp.task,
                    child_id=outcome.child_id,
                    error=plain(outcome.error),
                    started=started,
                )
            )
