"""The task-type interface: how a run of some kind of task is executed.

A task type is contributed through ``seqd_register_task_types``. The engine calls
``execute`` in its own asyncio task; to cancel (a user's cancel, a timeout, shutdown)
it cancels that asyncio task, and the task type must end its work — terminate its
process group, kill its worker — before re-raising ``CancelledError``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import msgspec

from seqd.config.secrets import Secrets
from seqd.model.runs import LogStream, NewStep, Resources, Run, Step
from seqd.model.tasks import Problem

if TYPE_CHECKING:
    from seqd.config.settings import Config


@dataclass(frozen=True)
class TaskSource:
    """A task definition as loaded from its folder: parsed config plus the text of its
    defining files, snapshotted at load so a run uses exactly the version it records."""

    name: str
    dir: str
    version: str
    type: str
    config: dict[str, Any]
    """The whole ``config.json`` object."""
    options: msgspec.Struct | None
    """The task type's own fields, decoded into its ``options_type``."""
    files: dict[str, str] = field(default_factory=dict)
    """Defining files by name (``code.py``, ``graph.json``) and their text."""


@dataclass(frozen=True)
class TaskRef:
    """Another task as a task type sees it when checking a task that refers to it."""

    name: str
    type: str | None
    valid: bool
    """Valid on its own (its folder, config and code), before cross-task checks."""
    inputs: dict[str, Any] | None
    source: TaskSource | None
    problems: tuple[str, ...] = ()
    """Why it is not valid, as ``"where: message"``."""


@dataclass(frozen=True)
class Services:
    """What the daemon lends a task type when it starts."""

    config: Config
    state_dir: str
    node: str
    has_tool: Callable[[str], bool] | None = None
    """Whether a tool of that name exists (for checks of tasks that call tools)."""
    secrets: Secrets = field(default_factory=Secrets)
    """The daemon's named secrets, for a task config's ``{"secret": "<name>"}``
    values (and their redaction)."""


class Job(Protocol):
    """One run being executed, as a task type sees it."""

    @property
    def run(self) -> Run: ...

    @property
    def task(self) -> TaskSource: ...

    @property
    def input(self) -> dict[str, Any]: ...

    @property
    def work_dir(self) -> str:
        """A private directory for this run's files (created; removed after the run)."""

    @property
    def work_path(self) -> str:
        """Where ``work_dir`` is, without creating it (for a process that creates it
        only if it needs it)."""

    def log(self, stream: LogStream, text: str) -> None:
        """Append a line (no trailing newline) to the run's log; durable before it is
        reported. Past the configured per-run cap lines are dropped and the overflow
        is noted once in the log."""

    @property
    def log_full(self) -> bool:
        """True once the per-run log cap is reached: a producer may stop reading its
        output (but must keep draining/truncating it so the process never blocks)."""

    async def set_pid(self, pid: int | None) -> None:
        """Tell the daemon the process group the run lives in (shown by ``runs.get``);
        None once it has ended. Processes a run starts must carry ``SEQD_RUN_ID`` in
        their environment: that is how a restarted daemon finds them."""

    def set_resources(self, resources: Resources) -> None: ...

    def metric(self, name: str, value: float, kind: str, labels: dict[str, str]) -> None:
        """Record a sample of one of the task's own metrics (``ctx.metric``, a shell
        task's ``::metric`` line): ``kind`` is ``counter`` (add ``value``), ``gauge``
        (set it) or ``histogram`` (observe it). Not journaled, not replayed. A sample
        the daemon refuses (a bad name, too many label combinations) is dropped,
        counted, and noted in the run's log."""

    async def wait_logged(self, backlog_bytes: int = 1 << 20) -> None:
        """Backpressure: return at once unless more than ``backlog_bytes`` of log lines
        wait for storage, else once they are stored. A producer that reads output
        faster than storage takes it calls this between batches."""

    # Durable work (flows; python tasks' ``ctx`` later): the run's journal and child runs.

    async def journal(self) -> list[Step]:
        """Everything recorded for this run so far, in order (read when it (re)starts)."""

    async def record(self, steps: list[NewStep]) -> None:
        """Append to the run's journal; durable when this returns."""

    async def start_child(
        self, task: str, data: dict[str, Any], *, key: str, span_key: str | None = None
    ) -> Run:
        """Start a child run of ``task`` (parent: this run), or return the one this
        attempt already started under ``key``: the same key after a restart finds the
        same child, so a resumed run never starts a child twice. ``span_key``: the
        journal key of the operation that starts it, whose span is the child's parent
        span (else this run's span)."""

    async def wait_run(self, run_id: str) -> Run:
        """Until the run has ended; returns it."""

    async def cancel_run(self, run_id: str, reason: str) -> Run:
        """Cancel a run (a child of this one) and wait for it to end."""

    async def call_tool(self, name: str, params: dict[str, Any], *, key: str | None = None) -> Any:
        """Call a tool from the registry on this run's behalf; ``key``, the journal key
        of the operation making the call, makes the call's span a child of that
        operation's span (else of the run's)."""

    @property
    def cancel_kind(self) -> str | None:
        """Why the execution is being cancelled: ``cancelled`` (a user), ``timeout``,
        ``shutdown`` (the daemon stops; the run resumes at the next start, so children
        must be left alone), or None."""

    @property
    def cancel_reason(self) -> tuple[str, str] | None:
        """``(kind, message)`` of the cancellation: the kind as ``cancel_kind`` says,
        and the message a user gave (``runs.cancel ... reason``), or None."""


@runtime_checkable
class TaskType(Protocol):
    name: str
    options_type: type[msgspec.Struct] | None
    """Struct for the type's own config fields (strict: unknown fields are errors);
    None if the type takes none."""
    defining_files: tuple[str, ...]
    """Files in the task folder whose text the catalog snapshots (``code.py``)."""

    # Optional: ``check_with(source, lookup: Callable[[str], TaskRef | None]) ->
    # list[Problem]`` for problems that depend on other tasks (a flow naming a task that
    # does not exist); the catalog calls it after every reload and on ``tasks.validate``.
    # Optional: ``uses_worker = False`` for a type whose runs only coordinate other runs
    # (flows): they start at once, outside the ``workers`` limit, and are stopped first
    # at shutdown. (Not part of the Protocol so that older plugins still match it.)

    def check(self, source: TaskSource) -> list[Problem]:
        """Problems the catalog cannot see by itself (a missing ``code.py``...)."""

    async def start(self, services: Services) -> None:
        """Called once at daemon start, before any run."""

    async def stop(self, grace_s: float) -> None:
        """Called once at shutdown after runs ended; release processes and files."""

    async def input_schema(self, source: TaskSource) -> dict[str, Any] | None:
        """A JSON Schema for the inputs when the config gives none (python derives it
        from the function signature, in a worker); None to accept any object."""

    async def execute(self, job: Job) -> Any:
        """Run the job; return its JSON-serialisable output or raise
        ``seqd.errors.TaskFailed``. Must honour cancellation as described above."""

    def stats(self) -> dict[str, int]:
        """Counters for ``daemon.status`` (e.g. ``{"workers": 4, "busy": 1}``)."""
