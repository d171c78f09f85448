"""Running a flow graph: the driver that walks it state by state and journals each move.

Replay by keys: every effect a flow has (a child run, a tool call, a delay, a state's
outcome, a transition) has a key that is the same each time the graph is walked for the
same run attempt — ``a<run attempt>/<scope><state>#<entry>.<attempt>``, where the scope
names the parallel branch or map item it belongs to. A (re)started flow walks its graph from the
start; where the journal already holds a key's outcome, that outcome is used instead of
acting again, and child runs are started under an idempotency key, so a child started
just before a crash is found again rather than started twice. Choices are pure
functions of recorded data, so the walk takes the same path every time.

Cancellation: each branch of work runs in an asyncio task with a ``Scope``; whoever
cancels a scope says why, and the state that owns a child run cancels that run with the
reason before giving up. When the daemon stops (``cancel_kind == "shutdown"``), child
runs are left alone: they finish or are re-queued by the engine, and the resumed flow
picks up their results.

This module is the driver: choice, succeed, fail and wait states, and where a finished
state leads (``next``, ``catch``, ``fallback``). What an acting state does is in
``acting`` (attempts, timeouts, retries), ``fanout`` and ``join`` (parallel and map
states), ``effects`` (child runs, tool calls); the journal is ``journal``, compensation
``saga``.
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET

from seqd.errors import TaskFailed
from seqd.flow.acting import Actor
from seqd.flow.cancelscope import Scope
from seqd.flow.conditions import evaluate
from seqd.flow.data import Data, render_field
from seqd.flow.graph import (
    Acting,
    ChoiceState,
    FailState,
    Graph,
    StateBase,
    SubGraph,
    SucceedState,
    WaitState,
)
from seqd.flow.journal import Journal, step
from seqd.flow.outcome import Outcome, StateFailed, matches, plain, result_entry
from seqd.flow.saga import Saga
from seqd.flow.wait import wait_seconds
from seqd.model.runs import RunError, Step
from seqd.plugins.tasktype import Job

Move = tuple[str | None, str, Any, bool]
"""What executing a state comes to: (next state, why, its output, whether the walk ended)."""


class FlowExecution:
    """One execution (attempt) of a flow run."""

    def __init__(self, job: Job, graph: Graph, journal: list[Step]) -> None:
        self.job = job
        self.graph = graph
        self.journal = Journal(job, journal)
        run = job.run
        self.data: Data = {
            "input": job.input,
            "steps": {},
            "flow": {"run_id": run.id, "task": run.task, "attempt": run.attempt},
        }
        self.entries: dict[str, int] = {}
        self.saga = Saga(job, self.journal)
        self.actor = Actor(job, self.journal, self._walk)
        # Keys start with the attempt: a retried flow (the task's ``retries``) walks
        # afresh instead of replaying the failed attempt.
        self.root = Scope(f"a{run.attempt}/")

    async def run(self) -> Any:
        try:
            return await self._walk(self.graph, self.data, self.root)
        except StateFailed as failed:
            await self.journal.record()
            await self.saga.compensate(self.data, self.root)
            error = failed.error
            raise TaskFailed(error.type, error.message, error.details) from None

    async def _walk(self, sub: SubGraph, data: Data, scope: Scope) -> Any:
        """Walk one (sub)graph from its start to a final state; returns its result."""
        name = sub.start
        last: Any = None
        while True:
            state = sub.states[name]
            key = f"{scope.prefix}{name}#{self._enter_count(scope, name)}"
            next_name, why, last, ended = await self._enter(name, state, key, data, scope, last)
            if ended:
                await self.journal.record()
                if isinstance(state, SucceedState) and state.output is not UNSET:
                    return render_field(state.output, data, f"states.{name}.output")
                if sub.output is not UNSET:
                    return render_field(sub.output, data, "output")
                return last
            assert next_name is not None
            tkey = f"{key}>"
            if tkey not in self.journal.recorded.transitions:
                self.journal.note(
                    step("transition", tkey, name, **{"from": name, "to": next_name, "why": why})
                )
            name = next_name

    def _enter_count(self, scope: Scope, name: str) -> int:
        """Count an entry into a state; past ``max_state_entries`` the flow fails."""
        count = self.entries.get(scope.prefix + name, 0) + 1
        self.entries[scope.prefix + name] = count
        if count > self.graph.max_state_entries:
            raise StateFailed(
                RunError(
                    type="max_state_entries",
                    message=f"state {name!r} was entered {count} times; the limit is "
                    f"{self.graph.max_state_entries} (max_state_entries)",
                    details={"state": name},
                )
            )
        return count

    async def _enter(
        self, name: str, state: StateBase, key: str, data: Data, scope: Scope, last: Any
    ) -> Move:
        """Execute one state."""
        if isinstance(state, ChoiceState):
            return _choose(name, state, data, last)
        if isinstance(state, SucceedState):
            return None, "succeed", last, True
        if isinstance(state, FailState):
            message = render_field(state.message, data, f"states.{name}.message")
            raise StateFailed(
                RunError(
                    type=state.error,
                    message=str(message) or f"the flow reached fail state {name!r}",
                    details={"state": name},
                )
            )
        if isinstance(state, WaitState):
            await self.journal.sleep(key, name, wait_seconds(name, state, data))
            return state.next, "waited", last, state.end
        assert isinstance(state, Acting)
        outcome = await self.actor.act(name, state, key, data, scope)
        if outcome.ok:
            data["steps"][name] = result_entry(True, outcome.output, None)
            self.saga.succeeded(key, name, state, outcome.output)
            return state.next, "succeeded", outcome.output, state.end
        return _after_failure(name, state, outcome, data)


def _choose(name: str, state: ChoiceState, data: Data, last: Any) -> Move:
    """The first choice whose condition holds, else the default."""
    for i, choice in enumerate(state.choices):
        if evaluate(choice.when, data):
            return choice.next, f"choice {i} matched", last, False
    if state.default is not None:
        return state.default, "no choice matched: default", last, False
    raise StateFailed(
        RunError(
            type="no_choice",
            message=f"choice state {name!r}: no choice matched and it has no default",
            details={"state": name},
        )
    )


def _after_failure(name: str, state: Acting, outcome: Outcome, data: Data) -> Move:
    """Where a failed state leads: its ``on_timeout``, the first matching ``catch``,
    its ``fallback`` output; else the flow fails."""
    error = outcome.error
    assert error is not None
    data["steps"][name] = result_entry(False, None, error)
    targets = [(c.errors, c.next) for c in state.catch]
    if state.on_timeout:
        targets.insert(0, (["timeout"], state.on_timeout))
    for types, target in targets:
        if matches(types, error):
            return target, f"failed ({error.type}): caught", None, False
    if state.fallback is not UNSET:
        fallback = render_field(
            state.fallback, {**data, "error": plain(error)}, f"states.{name}.fallback"
        )
        data["steps"][name] = result_entry(True, fallback, error)
        return state.next, f"failed ({error.type}): fallback", fallback, state.end
    details = {"state": name, "error": plain(error)}
    if outcome.child_id is not None:
        details["child_id"] = outcome.child_id
    raise StateFailed(
        RunError(
            type=error.type,
            message=f"state {name!r} failed: {error.message}",
            details=details,
        )
    )
