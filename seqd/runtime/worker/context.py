"""``ctx``: what a python task's ``run(ctx, **inputs)`` receives.

Everything a task does that the daemon must know about goes through ``ctx``: logging,
metrics (``metric``: sent without waiting, never journaled), and the durable
operations (``step``, ``tool``, ``run_task``/``start_task``, ``sleep``/``sleep_until``,
``wait_signal``) that are journaled and replayed (``seqd.runtime.worker.durable``,
docs/durable.md). ``call`` is the request/response primitive
they are built on: each is at most one round trip to the daemon. Its own module
because ``Context`` is the public face task code sees; the work is done elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar

from seqd.model.metrics import metric_problem
from seqd.runtime.worker.durable import (
    ChildFailed,
    Durable,
    DurableError,
    StepFailed,
    Suspend,
    TaskHandle,
    ToolFailed,
    to_epoch,
)
from seqd.runtime.worker.replay import Nondeterminism

T = TypeVar("T")
DEFAULT_MAX_BYTES = 1024 * 1024


class TaskCancelled(BaseException):
    """Raised inside task code when the daemon cancels its run (user cancel, timeout,
    shutdown). A ``BaseException`` so that ``except Exception`` does not swallow it;
    ``finally`` blocks and context managers run as usual. Catching it and carrying on
    only delays the ``SIGKILL`` that follows the grace period."""


class CallError(Exception):
    """The daemon refused or failed a ``ctx.call``; ``type`` is a stable string."""

    def __init__(self, type: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.type = type
        self.message = message
        self.details: dict[str, Any] = details or {}


class Link(Protocol):
    """The worker's side of the control channel, as ``Context`` needs it."""

    def log(self, stream: str, text: str) -> None: ...

    def metric(self, name: str, value: float, kind: str, labels: dict[str, str]) -> None: ...

    def call(self, op: str, args: Any) -> Any: ...


class Context:
    """The run a task function is executing, and its way to talk to the daemon.

    Attributes (read them, do not assign):

    - ``run_id``: the run's id (``seqctl runs get <run_id>``).
    - ``task``: the task's name.
    - ``attempt``: 1 for the first attempt, 2 for the first retry, ...
    - ``input``: the run's input exactly as submitted (a dict; the keyword arguments
      are the same values, converted to the annotated types).
    - ``work_dir``: a private directory for this run's files, created on first use and
      removed after the run.
    - ``task_dir``: the task's folder; also the current directory during the run.
    - ``trace_id``: the trace the run belongs to (32 hex digits), shared by its whole
      tree of runs; ``traceparent``: the run's span as a W3C ``traceparent`` header,
      to pass on to services the task calls.
    - ``root_id``: the first run of the tree (the run itself if it has no parent);
      ``parent_id``: the run that started this one, or None.

    Durable operations raise these (also reachable as ``ctx.StepFailed`` etc.):
    ``StepFailed``, ``ToolFailed``, ``ChildFailed`` (all ``DurableError``: ``type``,
    ``message``, ``details``) and ``TimeoutError`` (``wait_signal``).
    """

    __slots__ = (
        "_durable",
        "_link",
        "_span_id",
        "_work_dir",
        "attempt",
        "input",
        "parent_id",
        "root_id",
        "run_id",
        "task",
        "task_dir",
        "trace_id",
    )

    CallError = CallError
    DurableError = DurableError
    StepFailed = StepFailed
    ToolFailed = ToolFailed
    ChildFailed = ChildFailed
    Suspend = Suspend
    Nondeterminism = Nondeterminism

    def __init__(
        self,
        *,
        run_id: str,
        task: str,
        attempt: int,
        input: dict[str, Any],
        work_dir: str,
        task_dir: str,
        link: Link,
        max_bytes: int = DEFAULT_MAX_BYTES,
        trace_id: str = "",
        span_id: str = "",
        root_id: str | None = None,
        parent_id: str | None = None,
    ) -> None:
        self.run_id = run_id
        self.trace_id = trace_id
        self._span_id = span_id
        self.root_id = root_id or run_id
        self.parent_id = parent_id
        self.task = task
        self.attempt = attempt
        self.input = input
        self._work_dir = work_dir
        self.task_dir = task_dir
        self._link = link
        self._durable = Durable(link, attempt, max_bytes)

    @property
    def work_dir(self) -> str:
        # Most runs never touch it: creating it lazily saves two syscalls' worth of
        # directory churn per run.
        os.makedirs(self._work_dir, exist_ok=True)
        return self._work_dir

    @property
    def traceparent(self) -> str:
        """The run's span as a W3C ``traceparent`` (``00-<trace>-<span>-01``)."""
        return f"00-{self.trace_id}-{self._span_id}-01"

    def log(self, *values: object, sep: str = " ") -> None:
        """Append to the run's log (stream ``log``), like ``print`` without a file.

        Each line of the text becomes one log line, in order with what the task prints.
        """
        text = sep.join(str(v) for v in values)
        if text.endswith("\n"):
            text = text[:-1]
        for line in text.split("\n"):
            self._link.log("log", line)

    def metric(self, name: str, value: float = 1, kind: str = "counter", **labels: str) -> None:
        """Record a sample of one of the task's own metrics (docs/observability.md):
        ``counter`` adds ``value`` (default 1), ``gauge`` sets it, ``histogram``
        observes it. ``labels`` are strings; the daemon adds ``task``.

        Raises ``ValueError`` for a bad name, value or label at once. Metrics are not
        durable: they are not journaled, and a resumed run does not count again what
        it counted before its suspension or restart. The daemon may still drop a
        sample (too many label combinations); the run's log then says so.
        """
        problem = metric_problem(name, value, kind, labels)
        if problem is not None:
            raise ValueError(problem)
        if self._durable.replaying():
            return
        self._link.metric(name, float(value), kind, labels)

    def call(self, op: str, args: Any = None) -> Any:
        """Ask the daemon to perform ``op`` with ``args`` and wait for its answer.

        The low-level primitive under journaled operations; ``args`` and the result are
        msgpack-able values. Raises ``CallError`` if the daemon has no such operation or
        the operation failed.
        """
        return self._link.call(op, args)

    # -- durable operations (docs/durable.md) ----------------------------------------

    def step(self, name: str, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` once for this run attempt and journal its result.

        Returns the result in its JSON form (a tuple comes back as a list), the same
        value on the first execution and on every replay; a replay returns it without
        calling ``fn``. If ``fn`` raises, the error is journaled and ``StepFailed`` is
        raised (again on replay). A crash while ``fn`` runs, before its result is
        journaled, runs it again on resume: steps are at-least-once, exactly-once once
        journaled.
        """
        return self._durable.step(name, fn, args, kwargs)  # type: ignore[no-any-return]

    def tool(self, name: str, /, **params: Any) -> Any:
        """Call the tool ``name`` with ``params``; its result (or ``ToolFailed``) is
        journaled and replayed."""
        return self._durable.tool(name, params)

    def run_task(self, name: str, input: dict[str, Any] | None = None) -> Any:
        """Start a child run of task ``name`` and wait for it: returns its output or
        raises ``ChildFailed``. The run is suspended (it holds no worker) while the
        child runs."""
        return self._durable.run_task(name, input)

    def start_task(self, name: str, input: dict[str, Any] | None = None) -> TaskHandle:
        """Start a child run of task ``name`` without waiting: a handle with ``.id``
        and ``.result()`` (which waits like ``run_task``)."""
        return self._durable.start_task(name, input)

    def sleep(self, seconds: float) -> None:
        """A durable timer: the due time is journaled once; until it passes the run is
        suspended (no worker), across restarts; after it, this returns at once."""
        self._durable.sleep(seconds, None)

    def sleep_until(self, when: datetime | str | float) -> None:
        """``sleep`` until ``when``: a timezone-aware datetime, an RFC 3339 string or
        epoch seconds."""
        self._durable.sleep(None, to_epoch(when))

    def wait_signal(self, name: str, timeout_s: float | None = None) -> Any:
        """Wait for a signal ``name`` (``seqctl runs signal ID NAME --data JSON``) and
        return its payload: the k-th wait on a name receives the k-th signal of that
        name sent to the run. Suspends the run until it comes; raises ``TimeoutError``
        once ``timeout_s`` (counted from the first wait) has passed."""
        return self._durable.wait_signal(name, timeout_s)

    def __repr__(self) -> str:
        return f"<Context run_id={self.run_id!r} task={self.task!r} attempt={self.attempt}>"
