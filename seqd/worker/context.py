"""``ctx``: what a python task's ``run(ctx, **inputs)`` receives.

Everything a task does that the daemon must know about goes through ``ctx``. Today that
is logging; ``call`` is the request/response primitive on which journaled operations
(steps, tools, durable sleeps) are built, so each of them is one round trip to the
daemon, where journaling and replay happen.
"""

from __future__ import annotations

import os
from typing import Any, Protocol


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
    """

    __slots__ = ("_link", "_work_dir", "attempt", "input", "run_id", "task", "task_dir")

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
    ) -> None:
        self.run_id = run_id
        self.task = task
        self.attempt = attempt
        self.input = input
        self._work_dir = work_dir
        self.task_dir = task_dir
        self._link = link

    @property
    def work_dir(self) -> str:
        # Most runs never touch it: creating it lazily saves two syscalls' worth of
        # directory churn per run.
        os.makedirs(self._work_dir, exist_ok=True)
        return self._work_dir

    def log(self, *values: object, sep: str = " ") -> None:
        """Append to the run's log (stream ``log``), like ``print`` without a file.

        Each line of the text becomes one log line, in order with what the task prints.
        """
        text = sep.join(str(v) for v in values)
        if text.endswith("\n"):
            text = text[:-1]
        for line in text.split("\n"):
            self._link.log("log", line)

    def call(self, op: str, args: Any = None) -> Any:
        """Ask the daemon to perform ``op`` with ``args`` and wait for its answer.

        The low-level primitive under journaled operations; ``args`` and the result are
        msgpack-able values. Raises ``CallError`` if the daemon has no such operation or
        the operation failed.
        """
        return self._link.call(op, args)

    def __repr__(self) -> str:
        return f"<Context run_id={self.run_id!r} task={self.task!r} attempt={self.attempt}>"
