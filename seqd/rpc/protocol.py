"""★ The wire contract: JSON-RPC 2.0 envelopes and one Params/Result type per method.

Imported by the daemon and by ``seqd.client``'s typed mode (seqctl uses the plain
mode and never imports it); it depends on msgspec and ``seqd.model`` only. ``rpc.discover``
builds its OpenRPC document from ``METHODS`` below, so the reference cannot drift.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from seqd.model.retention import PruneTotals
from seqd.model.roles import Role
from seqd.model.runs import LogLine, Run, RunStatus, Step
from seqd.model.tasks import Problem, TaskDef, TaskSummary
from seqd.model.traces import Span
from seqd.rpc.observing import (
    AlertHistoryParams,
    AlertHistoryResult,
    AlertsResult,
    MetricsGetParams,
    MetricsResult,
    TracerInfo,
)
from seqd.rpc.params import (
    MAX_BATCH_RUNS,
    IdempotencyKey,
    Limit,
    Params,
    Priority,
    RunId,
    RunRef,
    TaskName,
)
from seqd.rpc.retention import PruneParams
from seqd.rpc.schedules import (
    ScheduleDeleted,
    ScheduleInfo,
    ScheduleListParams,
    ScheduleListResult,
    ScheduleName,
    ScheduleNameParams,
    ScheduleParams,
)

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
    location: str | None
    """None for callers that are not admins."""


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
    socket: str | None
    """None (like ``state_dir`` and ``task_dirs``) for callers that are not admins."""
    state_dir: str | None
    task_dirs: list[str] | None
    plugins: list[str]
    runs: dict[str, int]
    workers: WorkerInfo
    tasks: int
    connections: int
    rss_bytes: int
    limits: LimitsInfo
    tools: int = 0
    rate_limits: RateLimitsInfo | None = None
    tracers: dict[str, TracerInfo] = {}
    """Per tracer: events queued, delivered, dropped (it was behind), failed."""
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
    warnings: list[Problem] = []
    """Legal but risky (a ``{name}`` placeholder inside a ``sh -c`` script): the task
    still runs."""


TraceParentText = Annotated[
    str,
    Meta(
        max_length=128,
        description="W3C trace context: 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>",
    ),
]


class SubmitParams(Params, kw_only=True):
    task: TaskName
    input: dict[str, Any] = {}
    wait: bool = False
    timeout_s: TimeoutS | None = None
    idempotency_key: IdempotencyKey | None = None
    priority: Priority = 0
    traceparent: TraceParentText | None = None
    """The caller's W3C trace context: the run joins that trace, under that span."""


class SubmitManyParams(Params, kw_only=True):
    task: TaskName
    inputs: Annotated[list[dict[str, Any]], Meta(min_length=1, max_length=MAX_BATCH_RUNS)]
    """One run per input, accepted all together or not at all."""
    idempotency_keys: (
        Annotated[list[IdempotencyKey | None], Meta(max_length=MAX_BATCH_RUNS)] | None
    ) = None
    """One per input (null for none), as ``runs.submit``'s ``idempotency_key``."""
    priority: Priority = 0


class SubmitManyResult(msgspec.Struct, kw_only=True):
    ids: list[str]
    """The run of each input, in order (an idempotency key may answer with an older run)."""
    created: int
    """How many of them are new runs."""


class RunIdParams(Params, kw_only=True):
    id: RunRef


class WaitParams(Params, kw_only=True):
    id: RunRef
    timeout_s: TimeoutS | None = None


class ListParams(Params, kw_only=True):
    task: TaskName | None = None
    status: RunStatus | None = None
    parent_id: RunRef | None = None
    schedule: ScheduleName | None = None
    roots_only: bool = False
    """Only runs without a parent (what users submitted, not the states of flows)."""
    count_children: bool = False
    """Also answer how many children each listed run has (``children``)."""
    limit: Limit = 50
    cursor: RunId | None = None


class ListResult(msgspec.Struct, kw_only=True):
    runs: list[Run]
    next_cursor: str | None = None
    children: dict[str, int] = {}
    """With ``count_children``: listed run id → its number of child runs (none: absent)."""


class CancelParams(Params, kw_only=True):
    id: RunRef
    reason: Annotated[str, Meta(max_length=1000)] | None = None


SignalName = Annotated[
    str,
    Meta(pattern=r"^[A-Za-z0-9_.:-]{1,128}$", description="a signal name"),
]


class SignalParams(Params, kw_only=True):
    id: RunRef
    name: SignalName
    data: Any = None
    """The payload ``ctx.wait_signal`` returns (any JSON value)."""


class RetryParams(Params, kw_only=True):
    id: RunRef


class LogsParams(Params, kw_only=True):
    id: RunRef
    after: Annotated[int, Meta(ge=0)] = 0
    limit: Limit = 1000


class LogsResult(msgspec.Struct, kw_only=True):
    lines: list[LogLine]
    next: int
    """Pass as ``after`` to read on; equals ``after`` when nothing new was there."""
    finished: bool
    """True once the run is terminal and every line has been read."""


class StepsParams(Params, kw_only=True):
    id: RunRef
    after: Annotated[int, Meta(ge=0)] = 0
    limit: Limit = 1000


class StepsResult(msgspec.Struct, kw_only=True):
    steps: list[Step]
    next: int
    """Pass as ``after`` to read on; equals ``after`` when nothing new was there."""
    finished: bool
    """True once the run is terminal and every entry has been read."""


class TraceResult(msgspec.Struct, kw_only=True):
    trace_id: str
    root_id: str
    """The run the tree starts from."""
    spans: list[Span]
    """By start time; ``parent_span_id`` links them into a tree."""
    truncated: bool = False
    """The tree was larger than one answer holds: some runs or spans are left out."""


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
    """Only admins may call it (``role`` is ``admin``)."""
    role: Role = "operator"
    """The least role that may call it, over RPC and from runs (``tools.roles``)."""


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
    role: Role = "reader"
    """The least role that may call it (``seqd.model.roles``)."""
    slow: bool = False
    """May wait a long time: served concurrently, not in line with other requests."""


METHODS: dict[str, MethodSpec] = {
    "daemon.ping": MethodSpec(NoParams, str, 'Liveness check; answers "pong".'),
    "daemon.status": MethodSpec(NoParams, StatusResult, "Version, pid, storage, runs, workers."),
    "daemon.reload": MethodSpec(
        NoParams, ReloadResult, "Re-read task directories (also on SIGHUP).", role="admin"
    ),
    "daemon.shutdown": MethodSpec(
        NoParams, ShutdownResult, "Stop gracefully, as on SIGTERM.", role="admin"
    ),
    "plugins.list": MethodSpec(NoParams, PluginsResult, "Every plugin, what it adds, errors."),
    "tasks.list": MethodSpec(TaskListParams, TaskListResult, "Task summaries, invalid ones too."),
    "tasks.get": MethodSpec(TaskNameParams, TaskDef, "One task with its input schema."),
    "tasks.validate": MethodSpec(TaskNameParams, ValidateResult, "Problems of one task."),
    "runs.submit": MethodSpec(
        SubmitParams, Run, "Queue a run; optionally wait.", role="operator", slow=True
    ),
    "runs.submit_many": MethodSpec(
        SubmitManyParams,
        SubmitManyResult,
        f"Queue one run per input (up to {MAX_BATCH_RUNS:,}), all or none, in one transaction.",
        role="operator",
    ),
    "runs.get": MethodSpec(RunIdParams, Run, "One run."),
    "runs.wait": MethodSpec(WaitParams, Run, "Wait until a run ends or timeout_s.", slow=True),
    "runs.list": MethodSpec(ListParams, ListResult, "Runs, newest first, filtered, paged."),
    "runs.cancel": MethodSpec(
        CancelParams,
        Run,
        "Cancel a queued or running run; answers once it ended.",
        role="operator",
        slow=True,
    ),
    "runs.signal": MethodSpec(
        SignalParams,
        Run,
        "Send a signal (name, data) to a run; wakes it if it waits for it.",
        role="operator",
    ),
    "runs.retry": MethodSpec(
        RetryParams,
        Run,
        "A new run of a failed or cancelled run: same task and input.",
        role="operator",
    ),
    "runs.logs": MethodSpec(LogsParams, LogsResult, "Log lines of a run after a seq."),
    "runs.steps": MethodSpec(
        StepsParams, StepsResult, "A run's journal: state transitions and outcomes, in order."
    ),
    "runs.trace": MethodSpec(
        RunIdParams, TraceResult, "The spans of a run's whole tree: runs and their steps."
    ),
    "runs.prune": MethodSpec(
        PruneParams,
        PruneTotals,
        "Remove finished run trees older than older_than_s, with their logs and journals.",
        role="admin",
        slow=True,
    ),
    "tools.list": MethodSpec(NoParams, ToolListResult, "Every tool, plugin and folder ones."),
    "tools.get": MethodSpec(ToolNameParams, ToolInfo, "One tool with its schemas."),
    "tools.call": MethodSpec(
        ToolCallParams,
        ToolCallResult,
        "Call a tool with params; answers its result.",
        role="operator",
        slow=True,
    ),
    "schedules.create": MethodSpec(
        ScheduleParams,
        ScheduleInfo,
        "Define a schedule: a task run at, every or by cron.",
        role="operator",
    ),
    "schedules.list": MethodSpec(
        ScheduleListParams, ScheduleListResult, "Schedules by name, with next fires, last run."
    ),
    "schedules.get": MethodSpec(ScheduleNameParams, ScheduleInfo, "One schedule."),
    "schedules.update": MethodSpec(
        ScheduleParams,
        ScheduleInfo,
        "Replace a schedule's definition; its history stays.",
        role="operator",
    ),
    "schedules.pause": MethodSpec(
        ScheduleNameParams, ScheduleInfo, "Stop a schedule firing.", role="operator"
    ),
    "schedules.resume": MethodSpec(
        ScheduleNameParams,
        ScheduleInfo,
        "Fire again, from now on (no catch-up).",
        role="operator",
    ),
    "schedules.delete": MethodSpec(
        ScheduleNameParams, ScheduleDeleted, "Remove a schedule; its runs stay.", role="operator"
    ),
    "schedules.trigger": MethodSpec(
        ScheduleNameParams, Run, "Run a schedule's task now.", role="operator"
    ),
    "rpc.discover": MethodSpec(NoParams, dict[str, Any], "This API as an OpenRPC document."),
    "metrics.get": MethodSpec(
        MetricsGetParams, MetricsResult, "Every metric, as JSON families or Prometheus text."
    ),
    "alerts.list": MethodSpec(NoParams, AlertsResult, "Every alert rule and its state now."),
    "alerts.history": MethodSpec(
        AlertHistoryParams, AlertHistoryResult, "Alert state changes, newest first, paged."
    ),
    "events.subscribe": MethodSpec(
        SubscribeParams, SubscribeResult, "Receive `event` notifications (see docs/events.md)."
    ),
    "events.unsubscribe": MethodSpec(UnsubscribeParams, UnsubscribeResult, "End a subscription."),
}
