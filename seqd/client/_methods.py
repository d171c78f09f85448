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

from seqd.client._calls import Batch, Listen, Request
from seqd.client._declare import generic_call, params_from, stream, unary
from seqd.client._schedule_methods import ScheduleMethods
from seqd.client._watch_methods import WatchMethods

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from seqd.client._declare import Steps, Stream
    from seqd.model.retention import PruneTotals
    from seqd.model.runs import Run, RunStatus
    from seqd.model.tasks import TaskDef, TaskSummary
    from seqd.rpc.runs import ListResult, LogsResult, StepsResult, SubmitManyResult, TraceResult
    from seqd.rpc.status import (
        NodesResult,
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


class Methods(ScheduleMethods, WatchMethods):
    """The methods; a client supplies the drivers ``_unary`` and ``_stream`` (and, from
    ``_calls.Session``, ``_left``). Those of schedules and of watching the daemon
    (events, metrics, alerts) are in modules of their own."""

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
    def nodes(self) -> Steps[NodesResult]:
        """The daemons sharing this one's store (just this one when it is not shared)."""
        result: NodesResult = yield Request("nodes.list")
        return result

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
