"""★ The wire contract: JSON-RPC 2.0 envelopes and one Params/Result type per method.

Imported by the daemon and by ``seqd.client``'s typed mode (seqctl uses the plain
mode and never imports it); it depends on msgspec and ``seqd.model.runs`` only. ``rpc.discover``
builds its OpenRPC document from ``METHODS`` below, so the reference cannot drift.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from seqd.model.runs import LogLine, Run, RunStatus, Step
from seqd.model.tasks import TASK_NAME_PATTERN, Problem, TaskDef, TaskSummary

PROTOCOL_VERSION = "1"
DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024

RequestId = int | str | None


class Request(msgspec.Struct, forbid_unknown_fields=True):
    """A request or notification. ``id`` is UNSET for a notification, None if null."""

    jsonrpc: str
    method: str
    params: msgspec.Raw | UnsetType = UNSET
    id: RequestId | UnsetType = UNSET


class ErrorObject(msgspec.Struct, omit_defaults=True):
    code: int
    message: str
    data: dict[str, Any] | UnsetType = UNSET


class Response(msgspec.Struct):
    """UNSET ``result``/``error`` are left out when encoded; ``id`` is always there."""

    jsonrpc: str = "2.0"
    id: RequestId = None
    result: Any = UNSET
    error: ErrorObject | UnsetType = UNSET


class Notification(msgspec.Struct):
    method: str
    params: Any
    jsonrpc: str = "2.0"


# -- params and results -------------------------------------------------------------


class Params(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every method's params: strict, so a misspelt field is an error."""


TaskName = Annotated[str, Meta(pattern=TASK_NAME_PATTERN, description="a task name")]
RunId = Annotated[str, Meta(pattern=r"^[0-9a-f]{8,64}$", description="a run id")]
Limit = Annotated[int, Meta(ge=1, le=1000)]
TimeoutS = Annotated[float, Meta(ge=0, le=86400 * 7)]


class NoParams(Params, kw_only=True):
    pass


class PluginInfo(msgspec.Struct, kw_only=True):
    name: str
    version: str | None
    source: str
    """``builtin`` or ``entry-point``."""
    kinds: list[str]
    contributes: dict[str, list[str]]
    error: str | None = None


class PluginsResult(msgspec.Struct, kw_only=True):
    plugins: list[PluginInfo]


class StorageInfo(msgspec.Struct, kw_only=True):
    name: str
    location: str


class WorkerInfo(msgspec.Struct, kw_only=True):
    max: int
    busy: int
    queued: int
    coordinating: int = 0
    """Runs in progress that hold no worker (flows waiting on their states)."""
    pools: dict[str, dict[str, int]] = {}


class LimitsInfo(msgspec.Struct, kw_only=True):
    max_line_bytes: int
    max_connections: int
    log_cap_bytes: int


class BucketInfo(msgspec.Struct, kw_only=True):
    rate_per_s: float
    burst: int
    tokens: float
    limited: int
    """Calls refused so far."""


class RateLimitsInfo(msgspec.Struct, kw_only=True):
    rpc_rate_per_s: float
    """Per client uid; 0 when there is no limit."""
    rpc_burst: int
    rpc_clients: dict[str, BucketInfo] = {}
    """By uid, for the clients seen lately."""
    tools: dict[str, BucketInfo] = {}
    """By tool name, for the tools that have a configured rate."""


class StatusResult(msgspec.Struct, kw_only=True):
    version: str
    protocol: str
    pid: int
    uptime_s: float
    node: str
    storage: StorageInfo
    socket: str
    state_dir: str
    task_dirs: list[str]
    plugins: list[str]
    runs: dict[str, int]
    workers: WorkerInfo
    tasks: int
    connections: int
    rss_bytes: int
    limits: LimitsInfo
    tools: int = 0
    rate_limits: RateLimitsInfo | None = None
    subscriptions: int = 0
    """Event subscriptions open (``events.subscribe``)."""


class ReloadResult(msgspec.Struct, kw_only=True):
    tasks: int
    changed: list[str]
    invalid: list[str]


class ShutdownResult(msgspec.Struct, kw_only=True):
    stopping: bool


class TaskListParams(Params, kw_only=True):
    tag: str | None = None


class TaskListResult(msgspec.Struct, kw_only=True):
    tasks: list[TaskSummary]


class TaskNameParams(Params, kw_only=True):
    name: TaskName


class ValidateResult(msgspec.Struct, kw_only=True):
    ok: bool
    problems: list[Problem]


class SubmitParams(Params, kw_only=True):
    task: TaskName
    input: dict[str, Any] = {}
    wait: bool = False
    timeout_s: TimeoutS | None = None
    idempotency_key: Annotated[str, Meta(min_length=1, max_length=256)] | None = None
    priority: Annotated[int, Meta(ge=-1000, le=1000)] = 0


class RunIdParams(Params, kw_only=True):
    id: RunId


class WaitParams(Params, kw_only=True):
    id: RunId
    timeout_s: TimeoutS | None = None


class ListParams(Params, kw_only=True):
    task: TaskName | None = None
    status: RunStatus | None = None
    parent_id: RunId | None = None
    limit: Limit = 50
    cursor: RunId | None = None


class ListResult(msgspec.Struct, kw_only=True):
    runs: list[Run]
    next_cursor: str | None = None


class CancelParams(Params, kw_only=True):
    id: RunId
    reason: Annotated[str, Meta(max_length=1000)] | None = None


SignalName = Annotated[
    str,
    Meta(pattern=r"^[A-Za-z0-9_.:-]{1,128}$", description="a signal name"),
]


class SignalParams(Params, kw_only=True):
    id: RunId
    name: SignalName
    data: Any = None
    """The payload ``ctx.wait_signal`` returns (any JSON value)."""


class RetryParams(Params, kw_only=True):
    id: RunId


class LogsParams(Params, kw_only=True):
    id: RunId
    after: Annotated[int, Meta(ge=0)] = 0
    limit: Limit = 1000


class LogsResult(msgspec.Struct, kw_only=True):
    lines: list[LogLine]
    next: int
    """Pass as ``after`` to read on; equals ``after`` when nothing new was there."""
    finished: bool
    """True once the run is terminal and every line has been read."""


class StepsParams(Params, kw_only=True):
    id: RunId
    after: Annotated[int, Meta(ge=0)] = 0
    limit: Limit = 1000


class StepsResult(msgspec.Struct, kw_only=True):
    steps: list[Step]
    next: int
    """Pass as ``after`` to read on; equals ``after`` when nothing new was there."""
    finished: bool
    """True once the run is terminal and every entry has been read."""


ToolName = Annotated[
    str,
    Meta(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}(\.[a-z0-9][a-z0-9_-]{0,63}){1,3}$",
        description="a dotted tool name",
    ),
]


class ToolInfo(msgspec.Struct, kw_only=True):
    name: str
    description: str
    source: str
    """``plugin`` or ``folder``."""
    plugin: str | None = None
    """The plugin that registered it (plugin tools)."""
    path: str | None = None
    """Its folder (folder tools)."""
    version: str | None = None
    valid: bool = True
    problems: list[Problem] = []
    params_schema: dict[str, Any] | None = None
    result_schema: dict[str, Any] | None = None
    rate: BucketInfo | None = None
    admin_only: bool = False
    """Over RPC, only admins may call it."""


class ToolListResult(msgspec.Struct, kw_only=True):
    tools: list[ToolInfo]


class ToolNameParams(Params, kw_only=True):
    name: ToolName


class ToolCallParams(Params, kw_only=True):
    name: ToolName
    params: dict[str, Any] = {}


class ToolCallResult(msgspec.Struct, kw_only=True):
    tool: str
    result: Any
    duration_s: float


TopicName = Annotated[
    str, Meta(pattern=r"^[a-z][a-z0-9_.-]{0,63}$", description="an event topic (run, log, step...)")
]
Cursor = Annotated[str, Meta(min_length=1, max_length=65536, description="an event cursor")]


class SubscribeParams(Params, kw_only=True):
    """Events of ``topics`` for the runs the filters select (all of them apply)."""

    topics: Annotated[list[TopicName], Meta(min_length=1, max_length=16)]
    run_id: RunId | None = None
    """One run (``log`` and ``step`` need this or ``root_id``)."""
    root_id: RunId | None = None
    """A run and every run under it (a flow's tree)."""
    task: TaskName | None = None
    status: Annotated[list[RunStatus], Meta(min_length=1)] | None = None
    """``run`` events of runs that have moved to one of these."""
    since: Cursor | None = None
    """Resume after this cursor (``"0"``: from the beginning) before going live."""
    tail: Annotated[int, Meta(ge=0, le=100_000)] | None = None
    """Without ``since``: start with each run's last ``tail`` log lines."""
    from_time: (
        Annotated[str, Meta(pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")] | None
    ) = None
    """Without ``since``: start with the log lines written at or after this UTC time."""


class SubscribeResult(msgspec.Struct, kw_only=True):
    id: str
    """The subscription, named in each of its events."""
    cursor: str
    """Where it starts (``since`` of a later subscription resumes from here)."""


class UnsubscribeParams(Params, kw_only=True):
    id: Annotated[str, Meta(min_length=1, max_length=64)]


class UnsubscribeResult(msgspec.Struct, kw_only=True):
    cursor: str
    """Where it stopped: the cursor of its last event sent."""


class MethodSpec(msgspec.Struct, frozen=True):
    params: type[msgspec.Struct]
    result: Any
    summary: str
    admin: bool = False
    """Only the daemon's own user, root and configured admins may call it."""
    slow: bool = False
    """May wait a long time: served concurrently, not in line with other requests."""


METHODS: dict[str, MethodSpec] = {
    "daemon.ping": MethodSpec(NoParams, str, 'Liveness check; answers "pong".'),
    "daemon.status": MethodSpec(NoParams, StatusResult, "Version, pid, storage, runs, workers."),
    "daemon.reload": MethodSpec(
        NoParams, ReloadResult, "Re-read task directories (also on SIGHUP).", admin=True
    ),
    "daemon.shutdown": MethodSpec(
        NoParams, ShutdownResult, "Stop gracefully, as on SIGTERM.", admin=True
    ),
    "plugins.list": MethodSpec(NoParams, PluginsResult, "Every plugin, what it adds, errors."),
    "tasks.list": MethodSpec(TaskListParams, TaskListResult, "Task summaries, invalid ones too."),
    "tasks.get": MethodSpec(TaskNameParams, TaskDef, "One task with its input schema."),
    "tasks.validate": MethodSpec(TaskNameParams, ValidateResult, "Problems of one task."),
    "runs.submit": MethodSpec(SubmitParams, Run, "Queue a run; optionally wait.", slow=True),
    "runs.get": MethodSpec(RunIdParams, Run, "One run."),
    "runs.wait": MethodSpec(WaitParams, Run, "Wait until a run ends or timeout_s.", slow=True),
    "runs.list": MethodSpec(ListParams, ListResult, "Runs, newest first, filtered, paged."),
    "runs.cancel": MethodSpec(
        CancelParams, Run, "Cancel a queued or running run; answers once it ended.", slow=True
    ),
    "runs.signal": MethodSpec(
        SignalParams, Run, "Send a signal (name, data) to a run; wakes it if it waits for it."
    ),
    "runs.retry": MethodSpec(
        RetryParams, Run, "A new run of a failed or cancelled run: same task and input."
    ),
    "runs.logs": MethodSpec(LogsParams, LogsResult, "Log lines of a run after a seq."),
    "runs.steps": MethodSpec(
        StepsParams, StepsResult, "A run's journal: state transitions and outcomes, in order."
    ),
    "tools.list": MethodSpec(NoParams, ToolListResult, "Every tool, plugin and folder ones."),
    "tools.get": MethodSpec(ToolNameParams, ToolInfo, "One tool with its schemas."),
    "tools.call": MethodSpec(
        ToolCallParams, ToolCallResult, "Call a tool with params; answers its result.", slow=True
    ),
    "rpc.discover": MethodSpec(NoParams, dict[str, Any], "This API as an OpenRPC document."),
    "events.subscribe": MethodSpec(
        SubscribeParams, SubscribeResult, "Receive `event` notifications (see docs/events.md)."
    ),
    "events.unsubscribe": MethodSpec(UnsubscribeParams, UnsubscribeResult, "End a subscription."),
}
