"""Every method of ``Client`` and ``AsyncClient``, defined once: the request each sends
and what it makes of the result, as steps (see ``_calls``) that both clients run with
their own I/O.

Its own module because this is the part of the clients that grows with the API, and
is the same for both of them. Results are decoded as the method's documented type
(``seqd.rpc.protocol.METHODS``) by the typed codec; the plain codec gives AttrDicts
with the same fields. The declared types are for the type checker only: this module
imports neither msgspec nor the Struct modules. Params are plain dicts, so that both
codecs can encode them; tests/client/test_plain.py checks that every method's request
decodes into its method's Params Struct (no field misspelt or missing).
"""

from __future__ import annotations

import time

from seqd.client._calls import Batch, End, Listen, Request, Subscribe
from seqd.client._declare import generic_call, params_from, stream, unary

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from seqd.client._declare import Steps, Stream
    from seqd.model.retention import PruneTotals
    from seqd.model.runs import Run, RunStatus
    from seqd.model.tasks import TaskDef, TaskSummary
    from seqd.rpc.events import SubscribeResult
    from seqd.rpc.observing import AlertHistoryResult, AlertInfo, AlertsResult, MetricsResult
    from seqd.rpc.runs import ListResult, LogsResult, StepsResult, SubmitManyResult, TraceResult
    from seqd.rpc.schedules import ScheduleDeleted, ScheduleInfo, ScheduleListResult
    from seqd.rpc.status import (
        PluginInfo,
        PluginsResult,
        ReloadResult,
        ShutdownResult,
        StatusResult,
        TaskListResult,
        ValidateResult,
    )
    from seqd.rpc.tools import ToolCallResult, ToolInfo, ToolListResult


def _run_filter(
    task: str | None = None,
    status: RunStatus | None = None,
    parent_id: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    schedule: str | None = None,
    roots_only: bool = False,
    count_children: bool = False,
) -> dict[str, Any]:
    """``runs.list``'s params: the parameters of ``list_runs`` and ``iter_runs``.
    ``parent_id`` may be any run reference (see ``get_run``)."""
    return {
        "task": task,
        "status": status,
        "parent_id": parent_id,
        "schedule": schedule,
        "roots_only": roots_only,
        "count_children": count_children,
        "limit": limit,
        "cursor": cursor,
    }


class Methods:
    """The methods; a client supplies the drivers ``_unary`` and ``_stream`` (and, from
    ``_calls.Session``, ``_left``)."""

    if TYPE_CHECKING:

        def _left(self, listen: Listen) -> None: ...

    # -- any method ----------------------------------------------------------------------

    @generic_call
    def call(self, method: str, params: Any = None, result_type: Any = None) -> Steps[Any]:
        """Call ``method`` with ``params`` (a dict or a msgspec Struct) and return the
        result decoded as ``result_type`` (default: the method's documented type; with
        ``typed=False``, plain JSON). Raises :class:`RpcError` when the daemon answers
        with an error."""
        return (yield Request(method, params, result_type))

    @unary
    def batch(self, calls: Sequence[tuple[str, Any]]) -> Steps[list[Any]]:
        """Send ``[(method, params), ...]`` as one JSON-RPC batch; return each result,
        or the :class:`RpcError` for an entry the daemon refused, in the given order."""
        if not calls:
            return []
        results: list[Any] = yield Batch(calls)
        return results

    # -- the daemon ----------------------------------------------------------------------

    @unary
    def ping(self) -> Steps[str]:
        answer: str = yield Request("daemon.ping")
        return answer

    @unary
    def status(self) -> Steps[StatusResult]:
        result: StatusResult = yield Request("daemon.status")
        return result

    @unary
    def reload(self) -> Steps[ReloadResult]:
        result: ReloadResult = yield Request("daemon.reload")
        return result

    @unary
    def shutdown(self) -> Steps[ShutdownResult]:
        result: ShutdownResult = yield Request("daemon.shutdown")
        return result

    @unary
    def plugins(self) -> Steps[list[PluginInfo]]:
        result: PluginsResult = yield Request("plugins.list")
        return result.plugins

    @unary
    def discover(self) -> Steps[dict[str, Any]]:
        """The API as an OpenRPC document."""
        doc: dict[str, Any] = yield Request("rpc.discover")
        return doc

    # -- tasks ---------------------------------------------------------------------------

    @unary
    def tasks(self, tag: str | None = None) -> Steps[list[TaskSummary]]:
        result: TaskListResult = yield Request("tasks.list", {"tag": tag})
        return result.tasks

    @unary
    def task(self, name: str) -> Steps[TaskDef]:
        result: TaskDef = yield Request("tasks.get", {"name": name})
        return result

    @unary
    def validate(self, name: str) -> Steps[ValidateResult]:
        result: ValidateResult = yield Request("tasks.validate", {"name": name})
        return result

    # -- runs ----------------------------------------------------------------------------

    @unary
    def submit(
        self,
        task: str,
        input: dict[str, Any] | None = None,
        *,
        wait: bool = False,
        timeout_s: float | None = None,
        idempotency_key: str | None = None,
        priority: int = 0,
        traceparent: str | None = None,
    ) -> Steps[Run]:
        """Queue a run; with ``wait`` return once it ended (or ``timeout_s`` passed).
        ``traceparent`` (W3C) makes the run part of the caller's trace."""
        params = {
            "task": task,
            "input": dict(input or {}),
            "wait": wait,
            "timeout_s": timeout_s,
            "idempotency_key": idempotency_key,
            "priority": priority,
            "traceparent": traceparent,
        }
        run: Run = yield Request("runs.submit", params)
        return run

    @unary
    def submit_many(
        self,
        task: str,
        inputs: Sequence[dict[str, Any]],
        *,
        idempotency_keys: Sequence[str | None] | None = None,
        priority: int = 0,
    ) -> Steps[SubmitManyResult]:
        """Queue one run of ``task`` per input, all or none (at most 10,000 inputs);
        ``.ids`` are the runs in input order. An error names the input (``index``)."""
        params = {
            "task": task,
            "inputs": [dict(i) for i in inputs],
            "idempotency_keys": None if idempotency_keys is None else list(idempotency_keys),
            "priority": priority,
        }
        result: SubmitManyResult = yield Request("runs.submit_many", params)
        return result

    @unary
    def get_run(self, id: str) -> Steps[Run]:
        """One run. ``id`` (here and wherever a method takes a run) may also be a unique
        prefix of the id (4+ hex digits), ``"last"`` (the newest run without a parent)
        or ``"last:TASK"`` (the newest run of TASK)."""
        run: Run = yield Request("runs.get", {"id": id})
        return run

    @unary
    def wait(self, id: str, timeout_s: float | None = None) -> Steps[Run]:
        """The run once finished, or as it is after ``timeout_s`` (then not terminal)."""
        run: Run = yield Request("runs.wait", {"id": id, "timeout_s": timeout_s})
        return run

    @unary
    @params_from(_run_filter)
    def list_runs(self, params: dict[str, Any]) -> Steps[ListResult]:
        """One page of matching runs, newest first; ``next_cursor`` continues it."""
        page: ListResult = yield Request("runs.list", params)
        return page

    @stream
    @params_from(_run_filter)
    def iter_runs(self, params: dict[str, Any]) -> Stream[Run]:
        """Every matching run, newest first (from ``cursor`` on), ``limit`` per page."""
        while True:
            page: ListResult = yield Request("runs.list", params)
            yield from page.runs
            if not page.next_cursor or not page.runs:
                return
            params = {**params, "cursor": page.next_cursor}

    @unary
    def cancel(self, id: str, reason: str | None = None) -> Steps[Run]:
        run: Run = yield Request("runs.cancel", {"id": id, "reason": reason})
        return run

    @unary
    def signal(self, id: str, name: str, data: Any = None) -> Steps[Run]:
        """Send signal ``name`` with ``data`` to a run (``ctx.wait_signal`` gets it)."""
        run: Run = yield Request("runs.signal", {"id": id, "name": name, "data": data})
        return run

    @unary
    def retry(self, id: str) -> Steps[Run]:
        """A new run of a failed or cancelled run, with the same task and input."""
        run: Run = yield Request("runs.retry", {"id": id})
        return run

    @unary
    def logs(self, id: str, after: int = 0, limit: int = 1000) -> Steps[LogsResult]:
        page: LogsResult = yield Request("runs.logs", {"id": id, "after": after, "limit": limit})
        return page

    @unary
    def steps(self, id: str, after: int = 0, limit: int = 1000) -> Steps[StepsResult]:
        """A run's journal (a flow's transitions and state outcomes) after ``after``."""
        page: StepsResult = yield Request("runs.steps", {"id": id, "after": after, "limit": limit})
        return page

    @unary
    def trace(self, id: str) -> Steps[TraceResult]:
        """The spans of the tree of runs ``id`` belongs to: runs, steps, tool calls,
        sleeps, signals, flow states (``parent_span_id`` links them)."""
        result: TraceResult = yield Request("runs.trace", {"id": id})
        return result

    @unary
    def prune_runs(
        self,
        older_than_s: float,
        status: Sequence[RunStatus] | None = None,
        task: str | None = None,
        *,
        dry_run: bool = False,
    ) -> Steps[PruneTotals]:
        """Remove the finished run trees whose root ended more than ``older_than_s``
        seconds ago (in ``status``, of ``task``), with their logs and journals; with
        ``dry_run`` only count them. Admins only. Waits for the whole prune."""
        params = {
            "older_than_s": older_than_s,
            "status": list(status) if status is not None else None,
            "task": task,
            "dry_run": dry_run,
        }
        totals: PruneTotals = yield Request("runs.prune", params)
        return totals

    # -- tools ---------------------------------------------------------------------------

    @unary
    def tools(self) -> Steps[list[ToolInfo]]:
        result: ToolListResult = yield Request("tools.list")
        return result.tools

    @unary
    def tool(self, name: str) -> Steps[ToolInfo]:
        result: ToolInfo = yield Request("tools.get", {"name": name})
        return result

    @unary
    def call_tool(self, name: str, params: dict[str, Any] | None = None) -> Steps[ToolCallResult]:
        """Call a tool; ``.result`` is what it returned."""
        result: ToolCallResult = yield Request("tools.call", {"name": name, "params": params or {}})
        return result

    # -- metrics and alerts --------------------------------------------------------------

    @unary
    def metrics(self, format: str = "json", prefix: str | None = None) -> Steps[MetricsResult]:
        """Every metric (``format="json"``: ``families``) or the Prometheus text
        (``format="prometheus"``: ``text``); only names starting with ``prefix``."""
        result: MetricsResult = yield Request("metrics.get", {"format": format, "prefix": prefix})
        return result

    @unary
    def alerts(self) -> Steps[list[AlertInfo]]:
        """Every alert rule and its state now."""
        result: AlertsResult = yield Request("alerts.list")
        return result.alerts

    @unary
    def alert_history(
        self, rule: str | None = None, before: int | None = None, limit: int = 50
    ) -> Steps[AlertHistoryResult]:
        """Alert state changes, newest first; ``next_before`` pages on."""
        result: AlertHistoryResult = yield Request(
            "alerts.history", {"rule": rule, "before": before, "limit": limit}
        )
        return result

    # -- schedules -----------------------------------------------------------------------

    @unary
    def create_schedule(self, /, name: str, task: str, **definition: Any) -> Steps[ScheduleInfo]:
        """Define schedule ``name`` running ``task``: one of ``at``, ``every`` or
        ``cron``, and any other field of the definition (``input``, ``tz``, ``overlap``,
        ``misfire``, ``catch_up``, ``jitter_s``, ``start``, ``end``, ``anchor``,
        ``paused``; see docs/schedules.md)."""
        info: ScheduleInfo = yield Request(
            "schedules.create", {"name": name, "task": task, **definition}
        )
        return info

    @unary
    def update_schedule(self, /, name: str, task: str, **definition: Any) -> Steps[ScheduleInfo]:
        """Replace the whole definition of schedule ``name`` (fields as for
        ``create_schedule``); its cursor, queue and runs stay."""
        info: ScheduleInfo = yield Request(
            "schedules.update", {"name": name, "task": task, **definition}
        )
        return info

    @unary
    def schedules(
        self, task: str | None = None, after: str | None = None, limit: int = 100
    ) -> Steps[ScheduleListResult]:
        """One page of schedules by name; ``next_cursor`` is the ``after`` of the next."""
        params = {"task": task, "after": after, "limit": limit}
        page: ScheduleListResult = yield Request("schedules.list", params)
        return page

    @unary
    def schedule(self, name: str) -> Steps[ScheduleInfo]:
        info: ScheduleInfo = yield Request("schedules.get", {"name": name})
        return info

    @unary
    def pause_schedule(self, name: str) -> Steps[ScheduleInfo]:
        info: ScheduleInfo = yield Request("schedules.pause", {"name": name})
        return info

    @unary
    def resume_schedule(self, name: str) -> Steps[ScheduleInfo]:
        """Fire again from now on (what fell due while paused is not caught up)."""
        info: ScheduleInfo = yield Request("schedules.resume", {"name": name})
        return info

    @unary
    def delete_schedule(self, name: str) -> Steps[ScheduleDeleted]:
        result: ScheduleDeleted = yield Request("schedules.delete", {"name": name})
        return result

    @unary
    def trigger_schedule(self, name: str) -> Steps[Run]:
        """A run of the schedule's task now, outside its timing and overlap policy."""
        run: Run = yield Request("schedules.trigger", {"name": name})
        return run

    # -- events --------------------------------------------------------------------------

    @stream
    def subscribe(
        self,
        topics: Sequence[str],
        *,
        run_id: str | None = None,
        root_id: str | None = None,
        task: str | None = None,
        status: Sequence[RunStatus] | None = None,
        since: str | None = None,
        tail: int | None = None,
        from_time: str | None = None,
        timeout_s: float | None = None,
    ) -> Stream[Any]:
        """Events of ``topics`` (``run``, ``log``, ``step``, and topics the daemon adds)
        for the runs the filters select, as they are stored: ``for event in
        client.subscribe(["run"])`` (``async for`` on AsyncClient). Typed, each is one
        of ``seqd.model.events`` (``RunEvent``, ``LogEvent``..., ``TopicEvent`` for
        other topics); ``event.topic`` tells which. ``log`` and ``step``
        need ``run_id`` or ``root_id`` (a whole tree). ``since`` (an event's ``cursor``,
        or ``"0"`` for the beginning) first replays what happened after it; ``tail`` /
        ``from_time`` start with a run's last lines / the lines since a time. A ``live``
        event marks the end of the replay. The loop ends by itself after ``timeout_s``
        seconds, if given. Raises :class:`SubscriptionCut` (with the cursor to resume
        from) when the daemon ends it; leaving the loop ends it. See docs/events.md."""
        params = {
            "topics": list(topics),
            "run_id": run_id,
            "root_id": root_id,
            "task": task,
            "status": list(status) if status is not None else None,
            "since": since,
            "tail": tail,
            "from_time": from_time,
        }
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        opened: SubscribeResult = yield Subscribe(params)
        listen = Listen(str(opened.id), deadline)
        try:
            while True:
                event: Any = yield listen
                if isinstance(event, End):
                    return
                yield event
        finally:
            self._left(listen)
