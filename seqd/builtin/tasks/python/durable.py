"""The daemon's side of python tasks' durable operations (``ctx.step`` and friends).

Each handler serves one ``ctx.call`` from a worker (``seqd.runtime.workerpool.ops``): it does
what the journal does not already answer — call a tool, start a child run, schedule a
timer, look for a signal — records the outcome in the run's journal, and answers once
that record is durable. Matching code against the journal is the worker's job
(``seqd.runtime.worker.replay``); the worker tells each handler what the journal already
records for its operation (``known``), so no handler reads the journal again, except
the signal wait, which must see signals sent since the execution began.

Entries: ``kind`` ``step``/``tool``/``child``/``sleep``/``signal``, ``key``
``py.<attempt>.<op number>``, ``name`` the step, tool, task or signal name.
Results are stored as the JSON bytes the worker sent (``msgspec.Raw``), not decoded and
encoded again.
"""

from __future__ import annotations

import math
import time
from typing import Any

import msgspec

from seqd.errors import SeqdError, TaskFailed, ValidationFailed
from seqd.model import timeutil
from seqd.model.runs import NewStep, Run
from seqd.model.status import TERMINAL
from seqd.plugins.tasktype import Job
from seqd.runtime.workerpool.calls import OpHandler
from seqd.runtime.workerpool.ops import (
    ENCODE_ERRORS,
    KINDS,
    MAX_NAME,
    OP_CHILD,
    OP_JOURNAL,
    OP_STEP,
    OP_TOOL,
    OP_WAIT,
    Answer,
    ChildArgs,
    Entry,
    OpError,
    StepArgs,
    ToolArgs,
    WaitArgs,
    encode_entries,
    journal_key,
    parse_key,
)

_json = msgspec.json.Encoder()
_decode = msgspec.json.decode
SIGNAL_IN = "signal_in"
"""The kind of the entries ``runs.signal`` appends to a run's journal."""


def _args(args: Any, kind: type[msgspec.Struct], op: str) -> Any:
    try:
        return msgspec.convert(args, kind)
    except msgspec.ValidationError as exc:
        raise ValidationFailed(f"{op}: bad arguments: {exc}", {"field": "args"}) from None


def _error(exc: BaseException) -> OpError:
    """A failure as it is journaled and re-raised in task code."""
    if isinstance(exc, SeqdError | TaskFailed):
        return OpError(exc.type, exc.message, dict(exc.details))
    return OpError("exception", f"{type(exc).__name__}: {exc}")


def _plain(error: OpError) -> dict[str, Any]:
    return {"type": error.type, "message": error.message, "details": error.details}


def _name(name: str, field: str) -> str:
    if not name or len(name) > MAX_NAME:
        raise ValidationFailed(
            f"{field} must be 1 to {MAX_NAME} characters", {"field": field, "limit": MAX_NAME}
        )
    return name


def _finite(value: float | None, field: str) -> float | None:
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise ValidationFailed(f"{field} must be a finite number >= 0", {"field": field})
    return value


class DurableOps:
    """The ``ctx.call`` handlers of durable operations; ``max_bytes`` bounds what a
    worker may put in the journal in one value (the daemon's input limit)."""

    def __init__(self, max_bytes: int = 1024 * 1024) -> None:
        self.max_bytes = max_bytes

    def handlers(self) -> dict[str, OpHandler]:
        return {
            OP_JOURNAL: self.journal,
            OP_STEP: self.step,
            OP_TOOL: self.tool,
            OP_CHILD: self.child,
            OP_WAIT: self.wait,
        }

    # -- helpers ------------------------------------------------------------------------

    def _json(self, data: bytes, field: str, *, obj: bool = False) -> Any:
        """``data`` checked to be (an object in) JSON within the size limit."""
        if len(data) > self.max_bytes:
            raise ValidationFailed(
                f"{field} is {len(data)} bytes; the limit is {self.max_bytes}",
                {"field": field, "limit": self.max_bytes},
            )
        try:
            value = _decode(data)
        except msgspec.DecodeError:
            raise ValidationFailed(f"{field} is not JSON", {"field": field}) from None
        if obj and not isinstance(value, dict):
            raise ValidationFailed(f"{field} must be a JSON object", {"field": field})
        return value

    def _safe(self, error: OpError) -> OpError:
        """A worker's error, bounded and encodable, before it goes into the journal."""
        details = error.details
        try:
            if len(_json.encode(details)) > self.max_bytes:
                details = {}
        except ENCODE_ERRORS:
            details = {}
        return OpError(error.type[:200], error.message[: self.max_bytes], details)

    @staticmethod
    async def _record(job: Job, kind: str, index: int, name: str, status: str, **data: Any) -> None:
        """Journal one entry; a ``started`` time (epoch seconds or RFC 3339) is kept as
        RFC 3339 text: the start of the operation's span (seqd.trace)."""
        started = data.pop("started", None)
        if isinstance(started, float | int) and 0 <= started <= time.time() + 86400:
            data["started"] = timeutil.format_ts(started)
        key = journal_key(job.run.attempt, index)
        await job.record(
            [NewStep(ts=timeutil.now(), kind=kind, key=key, name=name, status=status, data=data)]
        )

    # -- operations ---------------------------------------------------------------------

    async def journal(self, job: Job, args: Any) -> bytes:
        """This attempt's entries of python operations, as JSON ``list[Entry]``."""
        attempt = job.run.attempt
        entries: list[Entry] = []
        for step in await job.journal():
            if step.kind not in KINDS:
                continue
            index = parse_key(step.key, attempt)
            if index is not None:
                entries.append(Entry(index, step.kind, step.name, step.status, step.data))
        return encode_entries(entries)

    async def step(self, job: Job, args: Any) -> None:
        a: StepArgs = _args(args, StepArgs, OP_STEP)
        _name(a.name, "name")
        started = a.started
        if a.error is not None:
            error = self._safe(a.error)
            await self._record(
                job, "step", a.index, a.name, "failed", error=_plain(error), started=started
            )
            return
        if a.result is None:
            raise ValidationFailed("step: a result or an error is required", {"field": "args"})
        self._json(a.result, "result")
        await self._record(
            job, "step", a.index, a.name, "succeeded", result=msgspec.Raw(a.result), started=started
        )

    async def tool(self, job: Job, args: Any) -> Answer:
        a: ToolArgs = _args(args, ToolArgs, OP_TOOL)
        _name(a.name, "name")
        params = self._json(a.params, "params", obj=True)
        started = time.time()
        try:
            result = await job.call_tool(a.name, params, key=journal_key(job.run.attempt, a.index))
            value = _json.encode(result)
        except ENCODE_ERRORS as exc:
            error = OpError("invalid_output", f"tool {a.name!r} returned no JSON: {exc}")
        except Exception as exc:  # a tool is plugin code: its failure is the caller's
            error = _error(exc)
        else:
            await self._record(
                job,
                "tool",
                a.index,
                a.name,
                "succeeded",
                result=msgspec.Raw(value),
                started=started,
            )
            return Answer("return", value=value)
        await self._record(
            job, "tool", a.index, a.name, "failed", error=_plain(error), started=started
        )
        return Answer("raise", error=error)

    async def child(self, job: Job, args: Any) -> Answer:
        a: ChildArgs = _args(args, ChildArgs, OP_CHILD)
        _name(a.task, "task")
        data = self._json(a.input, "input", obj=True)
        key = journal_key(job.run.attempt, a.index)
        try:
            # Idempotent per key: a resumed run finds the child it started before.
            child = await job.start_child(a.task, data, key=key, span_key=key)
        except SeqdError as exc:
            error = _error(exc)
            await self._record(job, "child", a.index, a.task, "failed", error=_plain(error))
            return Answer("raise", error=error)
        if child.status in TERMINAL and a.wait:
            return await self._ended(job, a, child)
        if not a.known:
            await self._record(
                job, "child", a.index, a.task, "started", child_id=child.id, task=a.task
            )
        if not a.wait:
            return Answer("return", value=_json.encode(child.id), child_id=child.id)
        return Answer("suspend", child_id=child.id, waiting_for=f"run:{child.id}")

    async def _ended(self, job: Job, a: ChildArgs, child: Run) -> Answer:
        if child.status == "succeeded":
            value = _json.encode(child.output)
            await self._record(
                job,
                "child",
                a.index,
                a.task,
                "succeeded",
                child_id=child.id,
                result=msgspec.Raw(value),
            )
            return Answer("return", value=value, child_id=child.id)
        cause = child.error
        error = OpError(
            cause.type if cause else child.status,
            f"child run {child.id} ({a.task}) {child.status}"
            + (f": {cause.message}" if cause else ""),
            {"child_id": child.id, "status": child.status, **(cause.details if cause else {})},
        )
        await self._record(
            job, "child", a.index, a.task, "failed", child_id=child.id, error=_plain(error)
        )
        return Answer("raise", error=error, child_id=child.id)

    async def wait(self, job: Job, args: Any) -> Answer:
        a: WaitArgs = _args(args, WaitArgs, OP_WAIT)
        seconds = _finite(a.seconds, "seconds")
        now = time.time()
        if a.due is not None and not math.isfinite(a.due):
            raise ValidationFailed("due must be a finite time", {"field": "due"})
        if a.signal is None:
            return await self._sleep(job, a, seconds, now)
        return await self._signal(job, a, _name(a.signal, "signal"), seconds, now)

    async def _sleep(self, job: Job, a: WaitArgs, seconds: float | None, now: float) -> Answer:
        if a.due is not None:
            due = a.due
        elif seconds is not None:
            due = now + seconds
        else:
            raise ValidationFailed("sleep: seconds or due is required", {"field": "seconds"})
        if not a.known:
            await self._record(
                job, "sleep", a.index, "sleep", "scheduled", due=due, seconds=seconds
            )
        if due <= now:
            return Answer("return", due=due)
        return Answer("suspend", due=due, wake_at=due)

    async def _signal(
        self, job: Job, a: WaitArgs, name: str, seconds: float | None, now: float
    ) -> Answer:
        if a.ordinal < 1:
            raise ValidationFailed("ordinal must be at least 1", {"field": "ordinal"})
        seen = 0
        for step in await job.journal():
            if step.kind == SIGNAL_IN and step.name == name:
                seen += 1
                if seen == a.ordinal:
                    payload = step.data.get("payload")
                    await self._record(
                        job, "signal", a.index, name, "received", payload=payload, seq=step.seq
                    )
                    return Answer("return", value=_json.encode(payload))
        due = a.due if a.known else (None if seconds is None else now + seconds)
        if due is not None and due <= now:
            error = OpError("timeout", f"no signal {name!r} came before the timeout")
            await self._record(job, "signal", a.index, name, "timeout", error=_plain(error))
            return Answer("raise", error=error)
        if not a.known:
            await self._record(job, "signal", a.index, name, "waiting", due=due, timeout_s=seconds)
        return Answer("suspend", due=due, wake_at=due, waiting_for=f"signal:{name}")
