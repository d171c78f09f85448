"""Acting states (task, tool, parallel, map): attempts, their timeouts, and retries.

A state's outcome is its last attempt's: each attempt runs under the state's timeout (a
deadline recorded the first time, so a restart keeps counting), a failed attempt whose
error ``retry`` lists is tried again after a recorded backoff, and the state's ``output``
template shapes what it succeeded with. Its own module because this is the policy every
acting state shares, whatever its work is; the driver only sees the final outcome.
"""

from __future__ import annotations

import asyncio
import random
import time

from msgspec import UNSET

from seqd.flow.cancelscope import Scope
from seqd.flow.data import Data, render_field, render_input
from seqd.flow.effects import call_tool, run_child
from seqd.flow.fanout import FanOut, Walk
from seqd.flow.graph import Acting, MapState, ParallelState, Retry, TaskState, ToolState
from seqd.flow.journal import Journal, outcome_step
from seqd.flow.outcome import Outcome, StateFailed, failed, matches, plain
from seqd.model import timeutil
from seqd.plugins.tasktype import Job


class Actor:
    """Runs the acting states of one flow execution."""

    def __init__(self, job: Job, journal: Journal, walk: Walk) -> None:
        self._job = job
        self._journal = journal
        self._fanout = FanOut(job, journal, walk)

    async def act(self, name: str, state: Acting, key: str, data: Data, scope: Scope) -> Outcome:
        """The state's outcome: recorded, or its attempts run until one is final."""
        recorded = self._journal.outcome(key)
        if recorded is not None:
            return recorded
        started = timeutil.now()
        retry = state.retry or Retry(max_attempts=1)
        attempt = 1
        while True:
            akey = f"{key}.{attempt}"
            outcome = await self._attempt(name, state, akey, data, scope)
            if outcome.ok or outcome.error is None:
                break
            if attempt >= retry.max_attempts or not matches(retry.errors, outcome.error):
                break
            await self._journal.sleep(
                f"{akey}~",
                name,
                backoff(retry, attempt),
                attempt=attempt,
                error=plain(outcome.error),
            )
            attempt += 1
        if outcome.ok and state.output is not UNSET:
            try:
                outcome.output = render_field(
                    state.output, {**data, "result": outcome.output}, f"states.{name}.output"
                )
            except StateFailed as exc:
                outcome = Outcome(False, error=exc.error, child_id=outcome.child_id)
        self._journal.note(
            outcome_step("state", key, name, outcome, attempts=attempt, started=started)
        )
        if not isinstance(state, TaskState):
            await self._journal.record()  # a tool's result exists nowhere else
        return outcome

    async def _attempt(
        self, name: str, state: Acting, akey: str, data: Data, scope: Scope
    ) -> Outcome:
        recorded = self._journal.outcome(akey)
        if recorded is not None:
            return recorded
        started = timeutil.now()
        if state.timeout_s is None:
            outcome = await self._do(name, state, akey, data, scope)
        else:
            due = await self._journal.due(f"{akey}@", name, state.timeout_s)
            inner = scope.under()
            work = asyncio.ensure_future(self._do(name, state, akey, data, inner))
            try:
                done, _ = await asyncio.wait([work], timeout=max(0.0, due - time.time()))
            except asyncio.CancelledError:
                work.cancel()
                await asyncio.gather(work, return_exceptions=True)
                raise
            if done:
                outcome = work.result()
            else:
                inner.why = f"state {name!r} timed out after {state.timeout_s:g}s"
                work.cancel()
                await asyncio.gather(work, return_exceptions=True)
                outcome = failed(
                    type="timeout",
                    message=inner.why,
                    details={"state": name, "timeout_s": state.timeout_s},
                )
        if isinstance(state, (ParallelState, MapState)) or state.retry is not None:
            # Attempts of composite or retried states are outcomes of their own, so a
            # resumed flow neither repeats a finished attempt nor loses its error.
            await self._journal.record(
                outcome_step("attempt", akey, name, outcome, started=started)
            )
        return outcome

    async def _do(self, name: str, state: Acting, akey: str, data: Data, scope: Scope) -> Outcome:
        """One attempt's work, by the kind of state. Its child run or tool call is a
        span under the state's span (journaled under the key without the attempt)."""
        key = akey.rpartition(".")[0]
        if isinstance(state, TaskState):
            payload = render_input(state.input, data, f"states.{name}.input")
            return await run_child(self._job, state.task, payload, akey, scope, key)
        if isinstance(state, ToolState):
            params = render_input(state.params, data, f"states.{name}.params")
            return await call_tool(self._job, state.tool, params, key)
        if isinstance(state, ParallelState):
            return await self._fanout.parallel(name, state, akey, data, scope)
        assert isinstance(state, MapState)
        return await self._fanout.map(name, state, akey, data, scope)


def backoff(retry: Retry, attempt: int) -> float:
    """The delay before the attempt after ``attempt`` (1-based)."""
    delay = retry.backoff_s * retry.factor ** (attempt - 1)
    if retry.max_backoff_s is not None:
        delay = min(delay, retry.max_backoff_s)
    if retry.jitter:
        delay *= 1 + random.uniform(-retry.jitter, retry.jitter)
    return delay
