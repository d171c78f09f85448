"""The durable operations behind ``ctx.step``, ``ctx.tool``, ``ctx.run_task``,
``ctx.sleep`` and ``ctx.wait_signal``, on the worker's side.

Each operation first looks at the journal of this attempt (fetched once, at the first
operation): a finished operation returns (or raises) what was recorded, without doing
anything; anything else is one round trip to the daemon, which performs and records it.
An operation that must wait — a timer not yet due, a signal not yet sent, a child run
not yet ended — suspends the run: ``Suspend`` unwinds the task code, the worker reports
it, and the run is executed again from the start when the wait is over. Its own
module: the durable semantics, apart from ``ctx`` (``context``) and from matching
against the journal (``replay``).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, NoReturn, Protocol

import msgspec

from seqd.runtime.worker.replay import Nondeterminism, Replay
from seqd.runtime.workerpool import ops

_encoder = msgspec.json.Encoder()
_decode = msgspec.json.decode


class Suspend(BaseException):
    """Unwinds task code when its run must wait: a ``BaseException`` so that ``except
    Exception`` does not swallow it (and remembered by the context, so swallowing it
    anyway still suspends the run). ``finally`` blocks run as usual."""

    def __init__(self, wake_at: float | None, waiting_for: str | None) -> None:
        self.wake_at = wake_at
        self.waiting_for = waiting_for
        what = waiting_for or "a timer"
        super().__init__(f"the run suspends until {what}")


class DurableError(Exception):
    """A recorded failure of a durable operation: ``type``, ``message``, ``details``.
    The same on the first execution and on every replay."""

    def __init__(self, type: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.type = type
        self.message = message
        self.details: dict[str, Any] = details or {}


class StepFailed(DurableError):
    """The function of a ``ctx.step`` raised; ``type`` is ``exception`` (``details``:
    ``exception``, its class) or ``invalid_output`` (the result is not JSON)."""


class ToolFailed(DurableError):
    """A ``ctx.tool`` call failed; ``type`` is the tool's error type."""


class ChildFailed(DurableError):
    """A child run failed, was cancelled or could not start; ``type`` is its error
    type and ``child_id`` its id (None if it never started)."""

    @property
    def child_id(self) -> str | None:
        value = self.details.get("child_id")
        return value if isinstance(value, str) else None


class TaskHandle:
    """A child run started by ``ctx.start_task``; ``result()`` waits for it."""

    __slots__ = ("_durable", "_input", "id", "index", "task")

    def __init__(self, durable: Durable, index: int, task: str, id: str, input: bytes) -> None:
        self._durable = durable
        self.index = index
        self.task = task
        self.id = id
        self._input = input

    def result(self) -> Any:
        """The child's output; raises ``ChildFailed`` if it did not succeed. Suspends
        the run while the child runs, like ``ctx.run_task``."""
        return self._durable.join(self)

    def __repr__(self) -> str:
        return f"<TaskHandle {self.task!r} id={self.id!r}>"


class Link(Protocol):
    """What ``Durable`` needs of the channel (``seqd.runtime.worker.channel.Channel``)."""

    def call(self, op: str, args: Any) -> Any: ...


def to_epoch(when: datetime | str | float) -> float:
    """Epoch seconds of a timezone-aware datetime, an RFC 3339 string or a number."""
    if isinstance(when, bool):
        raise TypeError("sleep_until takes a datetime, an RFC 3339 string or epoch seconds")
    if isinstance(when, int | float):
        value = float(when)
    elif isinstance(when, str):
        try:
            parsed = datetime.fromisoformat(when)
        except ValueError:
            raise ValueError(f"not an RFC 3339 time: {when!r}") from None
        return to_epoch(parsed)
    elif isinstance(when, datetime):
        if when.tzinfo is None:
            raise ValueError(f"{when!r} has no timezone; say which (e.g. +00:00 or Z)")
        value = when.timestamp()
    else:
        raise TypeError("sleep_until takes a datetime, an RFC 3339 string or epoch seconds")
    if not math.isfinite(value):
        raise ValueError(f"not a finite time: {when!r}")
    return value


def _seconds(value: float | None, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} must be a number of seconds, not {type(value).__name__}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be a finite number of seconds >= 0, not {value!r}")
    return float(value)


def _name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not name or len(name) > ops.MAX_NAME:
        raise TypeError(f"{what} must be a non-empty string of at most {ops.MAX_NAME} characters")
    return name


def _object(value: Any, what: str) -> bytes:
    if value is None:
        return b"{}"
    if not isinstance(value, dict):
        raise TypeError(f"{what} must be a dict, not {type(value).__name__}")
    try:
        return _encoder.encode(value)
    except ops.ENCODE_ERRORS as exc:
        raise TypeError(f"{what} is not JSON-serialisable: {exc}") from None


class Durable:
    """The durable operations of one execution of a run (one ``Context``)."""

    __slots__ = (
        "_busy",
        "_link",
        "_max_bytes",
        "_no_journal",
        "_replay",
        "attempt",
        "broken",
        "suspended",
    )

    def __init__(self, link: Link, attempt: int, max_bytes: int) -> None:
        self._link = link
        self.attempt = attempt
        self._max_bytes = max_bytes
        self._replay: Replay | None = None
        self._no_journal = False
        self._busy = False
        self.suspended: Suspend | None = None
        """Set once an operation suspended the run: the execution is over."""
        self.broken: Nondeterminism | None = None
        """Set once the code diverged from the journal: the attempt fails."""

    # -- the operations -------------------------------------------------------------

    def step(self, name: str, fn: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        _name(name, "the step name")
        if not callable(fn):
            raise TypeError(f"ctx.step({name!r}, fn): fn must be callable")
        recorded = self._begin("step", name)
        if recorded is not None and recorded.status in ops.DONE_STATUSES:
            return _outcome(recorded, StepFailed)
        index = self._index()
        self._busy = True
        started = time.time()
        try:
            value = fn(*args, **kwargs)
        except Exception as exc:
            kind = type(exc)
            error = ops.OpError(
                "exception",
                f"{kind.__name__}: {exc}"[: self._max_bytes],
                {"exception": f"{kind.__module__}.{kind.__qualname__}"},
            )
            self._link.call(ops.OP_STEP, ops.StepArgs(index, name, error=error, started=started))
            raise StepFailed(error.type, error.message, error.details) from exc
        finally:
            self._busy = False
        try:
            data = _encoder.encode(value)
        except ops.ENCODE_ERRORS as exc:
            message = f"the result of step {name!r} is not JSON-serialisable: {exc}"
            return self._invalid(index, name, message, started)
        if len(data) > self._max_bytes:
            message = (
                f"the result of step {name!r} is {len(data)} bytes as JSON; "
                f"the limit is {self._max_bytes}"
            )
            return self._invalid(index, name, message, started)
        self._link.call(ops.OP_STEP, ops.StepArgs(index, name, result=data, started=started))
        # The JSON form, as a replay will return it: the code sees the same either way.
        return _decode(data)

    def tool(self, name: str, params: dict[str, Any]) -> Any:
        recorded = self._begin("tool", _name(name, "the tool name"))
        if recorded is not None and recorded.status in ops.DONE_STATUSES:
            return _outcome(recorded, ToolFailed)
        args = ops.ToolArgs(self._index(), name, _object(params, f"the params of tool {name!r}"))
        return self._settle(self._ask(ops.OP_TOOL, args), ToolFailed)

    def run_task(self, task: str, input: dict[str, Any] | None) -> Any:
        recorded = self._begin("child", _name(task, "the task name"))
        if recorded is not None and recorded.status in ops.DONE_STATUSES:
            return _outcome(recorded, ChildFailed)
        data = _object(input, f"the input of task {task!r}")
        args = ops.ChildArgs(self._index(), task, data, wait=True, known=recorded is not None)
        return self._settle(self._ask(ops.OP_CHILD, args), ChildFailed)

    def start_task(self, task: str, input: dict[str, Any] | None) -> TaskHandle:
        recorded = self._begin("child", _name(task, "the task name"))
        index = self._index()
        data = _object(input, f"the input of task {task!r}")
        if recorded is not None:
            child_id = recorded.data.get("child_id")
            if isinstance(child_id, str):
                return TaskHandle(self, index, task, child_id, data)
            _failure(recorded, ChildFailed)  # it could not start: raise again
        answer = self._ask(ops.OP_CHILD, ops.ChildArgs(index, task, data, wait=False))
        if answer.child_id is None:
            self._fail(answer, ChildFailed)
        assert self._replay is not None
        self._replay.note(ops.Entry(index, "child", task, "started", {"child_id": answer.child_id}))
        return TaskHandle(self, index, task, answer.child_id, data)

    def join(self, handle: TaskHandle) -> Any:
        self._check()
        assert self._replay is not None
        recorded = self._replay.get(handle.index)
        if recorded is not None and recorded.status in ops.DONE_STATUSES:
            return _outcome(recorded, ChildFailed)
        args = ops.ChildArgs(handle.index, handle.task, handle._input, wait=True, known=True)
        return self._settle(self._ask(ops.OP_CHILD, args), ChildFailed)

    def sleep(self, seconds: float | None, due: float | None) -> None:
        """``seconds`` from now (``ctx.sleep``), or until ``due`` (``ctx.sleep_until``)."""
        if due is None:
            seconds = _seconds(seconds, "seconds")
            if seconds is None:
                raise TypeError("ctx.sleep needs a number of seconds")
        recorded = self._begin("sleep", "sleep")
        if recorded is not None:
            recorded_due = recorded.data.get("due")
            if isinstance(recorded_due, int | float):
                if recorded_due <= time.time():
                    return
                self._suspend(float(recorded_due), None)
        args = ops.WaitArgs(self._index(), seconds=seconds, due=due, known=recorded is not None)
        self._settle(self._ask(ops.OP_WAIT, args), DurableError)

    def wait_signal(self, name: str, timeout_s: float | None) -> Any:
        _name(name, "the signal name")
        timeout = _seconds(timeout_s, "timeout_s")
        recorded = self._begin("signal", name)
        assert self._replay is not None
        ordinal = self._replay.ordinal(name)
        if recorded is not None and recorded.status in ops.DONE_STATUSES:
            return _outcome(recorded, DurableError)
        due = recorded.data.get("due") if recorded is not None else None
        args = ops.WaitArgs(
            self._index(),
            signal=name,
            ordinal=ordinal,
            seconds=timeout,
            due=float(due) if isinstance(due, int | float) else None,
            known=recorded is not None,
        )
        return self._settle(self._ask(ops.OP_WAIT, args), DurableError)

    def replaying(self) -> bool:
        """Whether the code is re-running what an earlier execution of this attempt
        already ran (before a suspension or a restart): what it does there that is
        not journaled — metrics — was done then and must not be done twice. Reads
        the journal if no durable operation has yet."""
        replay = self._replay
        if replay is None:
            if self._no_journal:
                return False
            try:
                entries = ops.decode_entries(self._journal())
            except Exception:
                # No journal to read (a folder tool's code) or the daemon cannot read it
                # now: count, rather than fail the code over a metric. The durable
                # operations still read the journal themselves.
                self._no_journal = True
                return False
            replay = self._replay = Replay(self.attempt, entries)
        return replay.replaying()

    # -- plumbing ---------------------------------------------------------------------

    def _check(self) -> None:
        if self.broken is not None:
            raise self.broken
        if self.suspended is not None:
            raise Suspend(self.suspended.wake_at, self.suspended.waiting_for)
        if self._busy:
            raise RuntimeError("durable operations cannot be made inside a ctx.step function")
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("durable operations must be made from the task's main thread")

    def _begin(self, kind: str, name: str) -> ops.Entry | None:
        self._check()
        replay = self._replay
        if replay is None:
            replay = self._replay = Replay(self.attempt, ops.decode_entries(self._journal()))
        try:
            return replay.next(kind, name)
        except Nondeterminism as exc:
            self.broken = exc
            raise

    def _journal(self) -> bytes:
        data = self._link.call(ops.OP_JOURNAL, None)
        if not isinstance(data, bytes):
            raise TypeError(f"the daemon answered the journal with {type(data).__name__}")
        return data

    def _index(self) -> int:
        assert self._replay is not None
        return self._replay.index

    def _ask(self, op: str, args: msgspec.Struct) -> ops.Answer:
        return msgspec.convert(self._link.call(op, args), ops.Answer)

    def _settle(self, answer: ops.Answer, failure: type[DurableError]) -> Any:
        if answer.action == "return":
            return _decode(answer.value)
        if answer.action == "suspend":
            self._suspend(answer.wake_at, answer.waiting_for)
        self._fail(answer, failure)

    @staticmethod
    def _fail(answer: ops.Answer, failure: type[DurableError]) -> NoReturn:
        error = answer.error or ops.OpError("failed", "the operation failed")
        _raise(error.type, error.message, error.details, failure)

    def _suspend(self, wake_at: float | None, waiting_for: str | None) -> NoReturn:
        self.suspended = Suspend(wake_at, waiting_for)
        raise Suspend(wake_at, waiting_for)

    def _invalid(self, index: int, name: str, message: str, started: float) -> NoReturn:
        error = ops.OpError("invalid_output", message)
        self._link.call(ops.OP_STEP, ops.StepArgs(index, name, error=error, started=started))
        raise StepFailed(error.type, error.message)


def _outcome(entry: ops.Entry, failure: type[DurableError]) -> Any:
    """What a finished operation returns (or raises) on replay."""
    data = entry.data
    if entry.status == "succeeded":
        return data.get("result")
    if entry.status == "received":
        return data.get("payload")
    _failure(entry, failure)


def _failure(entry: ops.Entry, failure: type[DurableError]) -> NoReturn:
    """Raise the failure an operation recorded."""
    data = entry.data
    error = data.get("error")
    if not isinstance(error, dict):
        error = {"type": entry.status, "message": f"{entry.kind} {entry.name!r}: {entry.status}"}
    details = dict(error.get("details") or {})
    if "child_id" in data and "child_id" not in details:
        details["child_id"] = data["child_id"]
    _raise(str(error.get("type")), str(error.get("message")), details, failure)


def _raise(
    type: str, message: str, details: dict[str, Any], failure: type[DurableError]
) -> NoReturn:
    if type == "timeout" and failure is DurableError:
        raise TimeoutError(message)
    raise failure(type, message, details)
