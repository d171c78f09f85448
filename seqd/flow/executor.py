"""Running a flow graph: states as child runs, journaled so a restart resumes exactly.

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
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from msgspec import UNSET

from seqd.errors import SeqdError, TaskFailed
from seqd.flow.conditions import evaluate
from seqd.flow.graph import (
    Acting,
    ChoiceState,
    FailState,
    Graph,
    Join,
    MapState,
    ParallelState,
    Retry,
    StateBase,
    SubGraph,
    SucceedState,
    TaskState,
    ToolState,
    WaitState,
)
from seqd.flow.paths import MISSING, lookup, parse_path
from seqd.flow.template import TemplateError, render
from seqd.model import timeutil
from seqd.model.runs import NewStep, Run, RunError, Step
from seqd.plugins.tasktype import Job

Data = dict[str, Any]
MAX_MAP_ITEMS = 10_000
"""Items one map state runs at most: each is a child run and a task in memory."""
Work = Callable[["Scope"], Awaitable[Any]]
"""One branch or map item: a coroutine function of the scope it runs in."""


class StateFailed(Exception):
    """A state (or the flow) failed with a typed error."""

    def __init__(self, error: RunError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass
class Scope:
    """One asyncio task's share of the flow: its key prefix and why it was cancelled."""

    prefix: str
    parent: Scope | None = None
    why: str | None = None

    def reason(self) -> str | None:
        scope: Scope | None = self
        while scope is not None:
            if scope.why:
                return scope.why
            scope = scope.parent
        return None

    def under(self, prefix: str | None = None) -> Scope:
        """A scope for a sub-task: keys under ``prefix`` (default: the same keys)."""
        return Scope(self.prefix if prefix is None else prefix, self)


@dataclass
class Completed:
    """A state that did work, for compensation (saga) in reverse order."""

    key: str
    name: str
    state: Acting
    output: Any


@dataclass
class Outcome:
    ok: bool
    output: Any = None
    error: RunError | None = None
    child_id: str | None = None


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


def _error_of(run: Run) -> RunError:
    if run.error is not None:
        return run.error
    return RunError(type=run.status, message=f"run {run.id} ended {run.status}")


def _matches(types: list[str], error: RunError) -> bool:
    if error.type in types:
        return True
    return "*" in types and error.type != "cancelled"


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class FlowExecution:
    """One execution (attempt) of a flow run."""

    def __init__(self, job: Job, graph: Graph, journal: list[Step]) -> None:
        self.job = job
        self.graph = graph
        self.recorded = Recorded.of(journal)
        run = job.run
        self.data: Data = {
            "input": job.input,
            "steps": {},
            "flow": {"run_id": run.id, "task": run.task, "attempt": run.attempt},
        }
        self.entries: dict[str, int] = {}
        self.completed: list[Completed] = []
        # Keys start with the attempt: a retried flow (the task's ``retries``) walks
        # afresh instead of replaying the failed attempt.
        self.root = Scope(f"a{run.attempt}/")
        self._writes: list[asyncio.Future[None]] = []
        """Journal writes in flight that nothing waits for yet (see ``_note``)."""

    # -- journal ----------------------------------------------------------------------

    async def _record(self, *steps: NewStep) -> None:
        """Write to the journal and wait until it is durable (after every earlier
        write): for what exists nowhere else — a tool's result, a timer's due time."""
        await self._settle()
        if steps:
            await self.job.record(list(steps))

    def _note(self, *steps: NewStep) -> None:
        """Write to the journal without waiting: a task state's outcome and the
        transition after it. Both are also recoverable from the child run (found again
        through its key), so the flow need not wait for them before going on; the
        writes stay in order and are awaited before the flow ends."""
        self._writes.append(asyncio.ensure_future(self.job.record(list(steps))))

    async def _settle(self) -> None:
        while self._writes:
            writes, self._writes = self._writes, []
            await asyncio.gather(*writes)

    def _outcome_step(
        self, kind: str, key: str, name: str, outcome: Outcome, **data: Any
    ) -> NewStep:
        """The journal entry of an outcome (read back by ``_outcome_of``)."""
        return self._step(
            kind,
            key,
            name,
            "succeeded" if outcome.ok else "failed",
            output=outcome.output,
            error=_plain(outcome.error) if outcome.error else None,
            child_id=outcome.child_id,
            **data,
        )

    def _step(self, kind: str, key: str, name: str, status: str = "", **data: Any) -> NewStep:
        return NewStep(ts=timeutil.now(), kind=kind, key=key, name=name, status=status, data=data)

    # -- the walk ---------------------------------------------------------------------

    async def run(self) -> Any:
        try:
            return await self._walk(self.graph, self.data, self.root)
        except StateFailed as failed:
            await self._record()
            await self._compensate()
            error = failed.error
            raise TaskFailed(error.type, error.message, error.details) from None

    def _cancel_message(self) -> str:
        reason = getattr(self.job, "cancel_reason", None)
        message = reason[1] if isinstance(reason, tuple) else "cancelled"
        return f"its flow {self.job.run.id} ended: {message}"

    async def _walk(self, sub: SubGraph, data: Data, scope: Scope) -> Any:
        """Walk one (sub)graph from its start to a final state; returns its result."""
        name = sub.start
        last: Any = None
        while True:
            state = sub.states[name]
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
            key = f"{scope.prefix}{name}#{count}"
            next_name, why, last, ended = await self._enter(name, state, key, data, scope, last)
            if ended:
                await self._record()
                if isinstance(state, SucceedState) and state.output is not UNSET:
                    return self._render(state.output, data, f"states.{name}.output")
                if sub.output is not UNSET:
                    return self._render(sub.output, data, "output")
                return last
            assert next_name is not None
            tkey = f"{key}>"
            if tkey not in self.recorded.transitions:
                self._note(
                    self._step(
                        "transition", tkey, name, **{"from": name, "to": next_name, "why": why}
                    )
                )
            name = next_name

    async def _enter(
        self, name: str, state: StateBase, key: str, data: Data, scope: Scope, last: Any
    ) -> tuple[str | None, str, Any, bool]:
        """Execute one state: (next state, why, its output, whether the walk ended)."""
        if isinstance(state, ChoiceState):
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
        if isinstance(state, SucceedState):
            return None, "succeed", last, True
        if isinstance(state, FailState):
            message = self._render(state.message, data, f"states.{name}.message")
            raise StateFailed(
                RunError(
                    type=state.error,
                    message=str(message) or f"the flow reached fail state {name!r}",
                    details={"state": name},
                )
            )
        if isinstance(state, WaitState):
            await self._wait(name, state, key, data)
            return state.next, "waited", last, state.end
        assert isinstance(state, Acting)
        outcome = await self._act(name, state, key, data, scope)
        if outcome.ok:
            data["steps"][name] = {"status": "succeeded", "output": outcome.output, "error": None}
            if state.compensate is not None:
                self.completed.append(Completed(key, name, state, outcome.output))
            return state.next, "succeeded", outcome.output, state.end
        error = outcome.error
        assert error is not None
        data["steps"][name] = {"status": "failed", "output": None, "error": _plain(error)}
        targets = [*([([ "timeout"], state.on_timeout)] if state.on_timeout else []),
                   *((c.errors, c.next) for c in state.catch)]  # fmt: skip
        for types, target in targets:
            if _matches(types, error):
                return target, f"failed ({error.type}): caught", None, False
        if state.fallback is not UNSET:
            fallback = self._render(
                state.fallback, {**data, "error": _plain(error)}, f"states.{name}.fallback"
            )
            data["steps"][name] = {
                "status": "succeeded",
                "output": fallback,
                "error": _plain(error),
            }
            return state.next, f"failed ({error.type}): fallback", fallback, state.end
        details = {"state": name, "error": _plain(error)}
        if outcome.child_id is not None:
            details["child_id"] = outcome.child_id
        raise StateFailed(
            RunError(
                type=error.type,
                message=f"state {name!r} failed: {error.message}",
                details=details,
            )
        )

    # -- acting states: attempts, timeouts, retries -----------------------------------

    async def _act(self, name: str, state: Acting, key: str, data: Data, scope: Scope) -> Outcome:
        recorded = self.recorded.outcomes.get(key)
        if recorded is not None:
            return _outcome_of(recorded)
        retry = state.retry or Retry(max_attempts=1)
        attempt = 1
        while True:
            akey = f"{key}.{attempt}"
            outcome = await self._attempt(name, state, akey, data, scope)
            if outcome.ok or outcome.error is None:
                break
            if attempt >= retry.max_attempts or not _matches(retry.errors, outcome.error):
                break
            delay = retry.backoff_s * retry.factor ** (attempt - 1)
            if retry.max_backoff_s is not None:
                delay = min(delay, retry.max_backoff_s)
            if retry.jitter:
                delay *= 1 + random.uniform(-retry.jitter, retry.jitter)
            await self._sleep_recorded(
                f"{akey}~",
                name,
                delay,
                attempt=attempt,
                error=_plain(outcome.error),
            )
            attempt += 1
        if outcome.ok and state.output is not UNSET:
            try:
                outcome.output = self._render(
                    state.output, {**data, "result": outcome.output}, f"states.{name}.output"
                )
            except StateFailed as exc:
                outcome = Outcome(False, error=exc.error, child_id=outcome.child_id)
        self._note(self._outcome_step("state", key, name, outcome, attempts=attempt))
        if not isinstance(state, TaskState):
            await self._record()  # a tool's result exists nowhere else
        return outcome

    async def _attempt(
        self, name: str, state: Acting, akey: str, data: Data, scope: Scope
    ) -> Outcome:
        recorded = self.recorded.outcomes.get(akey)
        if recorded is not None:
            return _outcome_of(recorded)
        if state.timeout_s is None:
            outcome = await self._do(name, state, akey, data, scope)
        else:
            due = await self._due(f"{akey}@", name, state.timeout_s)
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
                outcome = Outcome(
                    False,
                    error=RunError(
                        type="timeout",
                        message=inner.why,
                        details={"state": name, "timeout_s": state.timeout_s},
                    ),
                )
        if isinstance(state, (ParallelState, MapState)) or state.retry is not None:
            # Attempts of composite or retried states are outcomes of their own, so a
            # resumed flow neither repeats a finished attempt nor loses its error.
            await self._record(self._outcome_step("attempt", akey, name, outcome))
        return outcome

    async def _do(self, name: str, state: Acting, akey: str, data: Data, scope: Scope) -> Outcome:
        if isinstance(state, TaskState):
            payload = self._input(state.input, data, f"states.{name}.input")
            return await self._child(state.task, payload, akey, scope)
        if isinstance(state, ToolState):
            params = self._input(state.params, data, f"states.{name}.params")
            return await self._tool(state.tool, params)
        if isinstance(state, ParallelState):
            jobs = [self._branch(b, data) for b in state.branches]
            return await self._join(
                name, akey, "branch", jobs, state.join, state.cancel_on_failure, 0, scope
            )
        assert isinstance(state, MapState)
        items = lookup(parse_path(state.items), data)
        if items is MISSING or not isinstance(items, list):
            return Outcome(
                False,
                error=RunError(
                    type="validation",
                    message=f"map state {name!r}: {state.items} is not a list",
                    details={"state": name, "field": "items"},
                ),
            )
        if len(items) > MAX_MAP_ITEMS:
            return Outcome(
                False,
                error=RunError(
                    type="validation",
                    message=f"map state {name!r}: {len(items)} items; the limit is "
                    f"{MAX_MAP_ITEMS} per map state (split the list, or nest maps)",
                    details={"state": name, "field": "items", "limit": MAX_MAP_ITEMS},
                ),
            )
        return await self._join(
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
            recorded = self.recorded.outcomes.get(done_key) or self.recorded.outcomes.get(ikey)
            if recorded is not None:
                outcome = _outcome_of(recorded)
            else:
                if state.input is UNSET:
                    payload = item if isinstance(item, dict) else {"item": item}
                else:
                    payload = self._input(state.input, local, f"states.{name}.input")
                assert state.task is not None
                outcome = await self._child(state.task, payload, ikey, inner)
                await self._record(
                    self._outcome_step(
                        "item", done_key if outcome.ok else ikey, name, outcome, index=index
                    )
                )
            if not outcome.ok:
                assert outcome.error is not None
                raise StateFailed(outcome.error)
            return outcome.output

        return run_item

    async def _join(
        self,
        name: str,
        akey: str,
        what: str,
        jobs: list[Work],
        join: Join,
        cancel_on_failure: bool,
        concurrency: int,
        scope: Scope,
    ) -> Outcome:
        """Run ``jobs`` at most ``concurrency`` at once (0: all), each in its own task
        and scope (keys under ``<akey>[i]/``), and join them by ``join``."""
        limit = asyncio.Semaphore(concurrency if concurrency > 0 else max(1, len(jobs)))
        scopes = [scope.under(f"{akey}[{i}]/") for i in range(len(jobs))]

        async def one(i: int) -> Any:
            async with limit:
                return await jobs[i](scopes[i])

        tasks = [asyncio.ensure_future(one(i)) for i in range(len(jobs))]
        results: list[Outcome | None] = [None] * len(tasks)
        pending = set(tasks)
        winner: int | None = None
        first_failure: int | None = None
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    i = tasks.index(task)
                    results[i] = _settled(task)
                    result = results[i]
                    assert result is not None
                    if join == "any" and result.ok and winner is None:
                        winner = i
                    if join == "all" and not result.ok and first_failure is None:
                        first_failure = i
                stop_why: str | None = None
                if winner is not None:
                    stop_why = f"{what} {winner} of {name!r} finished first"
                elif first_failure is not None and cancel_on_failure:
                    stop_why = f"{what} {first_failure} of {name!r} failed"
                if stop_why is not None and pending:
                    for i, task in enumerate(tasks):
                        if task in pending:
                            scopes[i].why = stop_why
                            task.cancel()
                    await asyncio.gather(*pending, return_exceptions=True)
                    for i in range(len(tasks)):
                        if results[i] is None:
                            results[i] = Outcome(
                                False, error=RunError(type="cancelled", message=stop_why)
                            )
                    pending = set()
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        settled = [r for r in results if r is not None]
        if join == "any":
            if winner is not None:
                return Outcome(True, settled[winner].output)
            errors = [_plain(r.error) for r in settled if r.error]
            return Outcome(
                False,
                error=RunError(
                    type=settled[-1].error.type if settled and settled[-1].error else "failed",
                    message=f"every {what} of {name!r} failed",
                    details={"state": name, "errors": errors},
                ),
            )
        if join == "all_settled":
            return Outcome(
                True,
                [
                    {
                        "status": "succeeded" if r.ok else "failed",
                        "output": r.output,
                        "error": _plain(r.error) if r.error else None,
                    }
                    for r in settled
                ],
            )
        failures = [(i, r) for i, r in enumerate(settled) if not r.ok]
        if failures:
            i, first = (
                failures[0] if first_failure is None else (first_failure, settled[first_failure])
            )
            assert first.error is not None
            return Outcome(
                False,
                error=RunError(
                    type=first.error.type,
                    message=f"{what} {i} of {name!r} failed: {first.error.message}",
                    details={
                        "state": name,
                        what: i,
                        "errors": {str(j): _plain(r.error) for j, r in failures if r.error},
                    },
                ),
            )
        return Outcome(True, [r.output for r in settled])

    # -- effects ----------------------------------------------------------------------

    async def _child(self, task: str, payload: Any, key: str, scope: Scope) -> Outcome:
        if not isinstance(payload, dict):
            return Outcome(
                False,
                error=RunError(
                    type="validation",
                    message=f"the input for task {task!r} must be an object, not "
                    f"{type(payload).__name__}",
                ),
            )
        try:
            child = await self.job.start_child(task, payload, key=key)
        except SeqdError as exc:
            return Outcome(
                False, error=RunError(type=exc.type, message=str(exc), details=exc.details)
            )
        try:
            done = await self.job.wait_run(child.id)
        except asyncio.CancelledError:
            if self.job.cancel_kind != "shutdown":
                why = scope.reason() or self._cancel_message()
                await asyncio.shield(self.job.cancel_run(child.id, why))
            raise
        if done.status == "succeeded":
            return Outcome(True, done.output, child_id=done.id)
        return Outcome(False, error=_error_of(done), child_id=done.id)

    async def _tool(self, name: str, params: Any) -> Outcome:
        if not isinstance(params, dict):
            return Outcome(
                False,
                error=RunError(
                    type="validation", message=f"the params for tool {name!r} must be an object"
                ),
            )
        try:
            return Outcome(True, await self.job.call_tool(name, params))
        except SeqdError as exc:
            return Outcome(
                False, error=RunError(type=exc.type, message=str(exc), details=exc.details)
            )
        except TaskFailed as exc:
            return Outcome(
                False, error=RunError(type=exc.type, message=exc.message, details=exc.details)
            )
        except Exception as exc:  # a tool is plugin code: its failure is the state's
            return Outcome(
                False, error=RunError(type="exception", message=f"{type(exc).__name__}: {exc}")
            )

    async def _due(
        self, key: str, name: str, seconds: float, kind: str = "deadline", **info: Any
    ) -> float:
        """A due time recorded the first time, so a restart keeps counting from then
        (``deadline``: a state's timeout; ``timer``: a wait or a retry delay)."""
        due = self.recorded.due.get(key)
        if due is None:
            due = time.time() + seconds
            self.recorded.due[key] = due
            await self._record(
                self._step(kind, key, name, "scheduled", due=due, seconds=seconds, **info)
            )
        return due

    async def _sleep_recorded(self, key: str, name: str, seconds: float, **info: Any) -> None:
        due = await self._due(key, name, seconds, "timer", **info)
        delay = due - time.time()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _wait(self, name: str, state: WaitState, key: str, data: Data) -> None:
        if state.seconds is not None:
            seconds = state.seconds
        elif state.seconds_path is not None:
            value = lookup(parse_path(state.seconds_path), data)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise StateFailed(
                    RunError(
                        type="validation",
                        message=f"wait state {name!r}: {state.seconds_path} is not a number of "
                        "seconds",
                        details={"state": name, "field": "seconds_path"},
                    )
                )
            seconds = float(value)
        else:
            assert state.until is not None
            when: Any = state.until
            if when.startswith("$"):
                when = lookup(parse_path(when), data)
            try:
                seconds = _epoch(when) - time.time()
            except (TypeError, ValueError, AttributeError):
                raise StateFailed(
                    RunError(
                        type="validation",
                        message=f"wait state {name!r}: until is not an RFC 3339 time",
                        details={"state": name, "field": "until"},
                    )
                ) from None
        await self._sleep_recorded(key, name, max(0.0, seconds))

    # -- compensation (saga) ----------------------------------------------------------

    async def _compensate(self) -> None:
        for done in reversed(self.completed):
            comp = done.state.compensate
            assert comp is not None
            ckey = f"{done.key}!"
            if ckey in self.recorded.compensations:
                continue
            try:
                payload = (
                    {}
                    if comp.input is UNSET
                    else self._render(
                        comp.input, {**self.data, "result": done.output}, "compensate.input"
                    )
                )
            except StateFailed as exc:
                outcome = Outcome(False, error=exc.error)
            else:
                outcome = await self._child(comp.task, payload, ckey, self.root)
            await self._record(
                self._step(
                    "compensate",
                    ckey,
                    done.name,
                    "succeeded" if outcome.ok else "failed",
                    task=comp.task,
                    child_id=outcome.child_id,
                    error=_plain(outcome.error) if outcome.error else None,
                )
            )

    # -- data -------------------------------------------------------------------------

    def _render(self, template: Any, data: Data, where: str) -> Any:
        try:
            return render(template, data)
        except TemplateError as exc:
            raise StateFailed(
                RunError(type="mapping", message=f"{where}: {exc}", details={"field": where})
            ) from None

    def _input(self, template: Any, data: Data, where: str) -> Any:
        return {} if template is UNSET else self._render(template, data, where)


def _scoped(data: Data) -> Data:
    """A branch sees what happened before it; what happens in it stays in it."""
    return {**data, "steps": dict(data["steps"])}


def _settled(task: asyncio.Task[Any]) -> Outcome:
    if task.cancelled():
        return Outcome(False, error=RunError(type="cancelled", message="cancelled"))
    exc = task.exception()
    if exc is None:
        return Outcome(True, task.result())
    if isinstance(exc, StateFailed):
        return Outcome(False, error=exc.error)
    raise exc


def _plain(error: RunError | None) -> dict[str, Any] | None:
    if error is None:
        return None
    return {"type": error.type, "message": error.message, "details": error.details}


def _outcome_of(step: Step) -> Outcome:
    error = step.data.get("error")
    return Outcome(
        step.status == "succeeded",
        step.data.get("output"),
        RunError(**error) if isinstance(error, dict) else None,
        step.data.get("child_id"),
    )
