"""★ The wire contract: JSON-RPC 2.0 envelopes and one Params/Result type per method.

Imported by the daemon and by ``seqd.client``'s typed mode (seqctl uses the plain
mode and never imports it); it depends on msgspec and ``seqd.model`` only. ``rpc.discover``
builds its OpenRPC document from ``METHODS`` below, so the reference cannot drift.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from seqd.model.retention import PruneTotals
from seqd.model.roles import Role
from seqd.model.runs import Run
from seqd.model.tasks import TaskDef
from seqd.rpc.events import SubscribeParams, SubscribeResult, UnsubscribeParams, UnsubscribeResult
from seqd.rpc.observing import (
    AlertHistoryParams,
    AlertHistoryResult,
    AlertsResult,
    MetricsGetParams,
    MetricsResult,
)
from seqd.rpc.params import (
    MAX_BATCH_RUNS,
    NoParams,
)
from seqd.rpc.retention import PruneParams
from seqd.rpc.runs import (
    CancelParams,
    ListParams,
    ListResult,
    LogsParams,
    LogsResult,
    RetryParams,
    RunIdParams,
    SignalParams,
    StepsParams,
    StepsResult,
    SubmitManyParams,
    SubmitManyResult,
    SubmitParams,
    TraceResult,
    WaitParams,
)
from seqd.rpc.schedules import (
    ScheduleDeleted,
    ScheduleInfo,
    ScheduleListParams,
    ScheduleListResult,
    ScheduleNameParams,
    ScheduleParams,
)
from seqd.rpc.status import (
    NodesResult,
    PluginsResult,
    ReloadResult,
    ShutdownResult,
    StatusResult,
    TaskListParams,
    TaskListResult,
    TaskNameParams,
    ValidateResult,
)
from seqd.rpc.tokens import (
    TokenCreated,
    TokenCreateParams,
    TokenIdParams,
    TokenInfo,
    TokenListResult,
)
from seqd.rpc.tools import ToolCallParams, ToolCallResult, ToolInfo, ToolListResult, ToolNameParams

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
    "nodes.list": MethodSpec(
        NoParams, NodesResult, "The daemons (nodes) sharing this one's store, with leases."
    ),
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
    "tokens.create": MethodSpec(
        TokenCreateParams,
        TokenCreated,
        "A token that acts as the caller (the web dashboard's login); shown once.",
    ),
    "tokens.list": MethodSpec(
        NoParams, TokenListResult, "Unexpired tokens: the caller's own (an admin's: all)."
    ),
    "tokens.revoke": MethodSpec(TokenIdParams, TokenInfo, "Make a token unusable now."),
}
