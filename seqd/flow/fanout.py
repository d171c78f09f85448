"""Parallel and map states: the pieces of work they fan out to, joined by ``join``.

A parallel state walks each branch's graph; a map state runs its ``task`` (or walks its
``iterator`` graph) once per item of a list. Its own module because turning a state into
its pieces — scoped data, per-item keys, items already done in an earlier attempt, the
items cap — is what these two states share and the rest of the executor does not.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from msgspec import UNSET

from seqd.flow.cancelscope import Scope
from seqd.flow.data import Data, render_field
from seqd.flow.effects import run_child
from seqd.flow.graph import MapState, ParallelState, SubGraph
from seqd.flow.join import Work, run_joined
from seqd.flow.journal import Journal, outcome_step
from seqd.flow.outcome import Outcome, StateFailed, failed
from seqd.flow.paths import MISSING, lookup, parse_path
from seqd.model import timeutil
from seqd.plugins.tasktype import Job

MAX_MAP_ITEMS = 10_000
"""Items one map state runs at most: each is a child run and a task in memory."""
Walk = Callable[[SubGraph, Data, Scope], Awaitable[Any]]
"""Walking a (sub)graph from its start to a final state (the executor's driver)."""


class FanOut:
    """Parallel and map states of one flow execution."""

    def __init__(self, job: Job, journal: Journal, walk: Walk) -> None:
        self._job = job
        self._journal = journal
        self._walk = walk

    async def parallel(
        self, name: str, state: ParallelState, akey: str, data: Data, scope: Scope
    ) -> Outcome:
        jobs = [self._branch(b, data) for b in state.branches]
        return await run_joined(
            name, akey, "branch", jobs, state.join, state.cancel_on_failure, 0, scope
        )

    async def map(self, name: str, state: MapState, akey: str, data: Data, scope: Scope) -> Outcome:
        items = lookup(parse_path(state.items), data)
        if items is MISSING or not isinstance(items, list):
            return failed(
                type="validation",
                message=f"map state {name!r}: {state.items} is not a list",
                details={"state": name, "field": "items"},
            )
        if len(items) > MAX_MAP_ITEMS:
            return failed(
                type="validation",
                message=f"map state {name!r}: {len(items)} items; the limit is "
                f"{MAX_MAP_ITEMS} per map state (split the list, or nest maps)",
                details={"state": name, "field": "items", "limit": MAX_MAP_ITEMS},
            )
        return await run_joined(
            name,
            akey,
            "item",
            [self._item(name, state, akey, i, item, data) for i, item in enumerate(items)],
            state.join,
            state.cancel_on_failure,
            state.concurrency,
            scope,
        )

    def _branch(self, branch: SubGraph, data: Data) -> Work:
        async def run_branch(scope: Scope) -> Any:
            return await self._walk(branch, _scoped(data), scope)

        return run_branch

    def _item(
        self, name: str, state: MapState, akey: str, index: int, item: Any, data: Data
    ) -> Work:
        ikey = f"{akey}[{index}]"
        # An item that succeeded in an earlier attempt of the state is not run again.
        done_key = f"{akey.rpartition('.')[0]}[{index}]"
        local = {**_scoped(data), "item": item, "index": index}

        async def run_item(inner: Scope) -> Any:
            if state.iterator is not None:
                return await self._walk(state.iterator, local, inner)
            outcome = self._journal.outcome(done_key) or self._journal.outcome(ikey)
            if outcome is None:
                started = timeutil.now()
                if state.input is UNSET:
                    payload = item if isinstance(item, dict) else {"item": item}
                else:
                    payload = render_field(state.input, local, f"states.{name}.input")
                assert state.task is not None
                span_key = akey.rpartition(".")[0]  # the map state's span
                outcome = await run_child(self._job, state.task, payload, ikey, inner, span_key)
                await self._journal.record(
                    outcome_step(
                        "item",
                        done_key if outcome.ok else ikey,
                        name,
                        outcome,
                        index=index,
                        started=started,
                    )
                )
            if not outcome.ok:
                assert outcome.error is not None
                raise StateFailed(outcome.error)
            return outcome.output

        return run_item


def _scoped(data: Data) -> Data:
    """A branch sees what happened before it; what happens in it stays in it."""
    return {**data, "steps": dict(data["steps"])}
