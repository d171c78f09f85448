"""What a run's job asks of the engine (the ``JobHost`` side of ``Engine``): its
journal was written, its pid, a tool call, a task metric.

Its own module (a base of ``Engine``) because these are the calls from inside a running
task, apart from the engine's own bookkeeping of runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from msgspec.structs import replace

from seqd.access.policy import Policy
from seqd.errors import ShuttingDown
from seqd.model.runs import Run
from seqd.observe.custom import CustomMetrics
from seqd.tools.service import ToolService

from .traces import run_caller
from .transitions import Transitions


class JobServices:
    """``Engine`` sets these attributes up."""

    transitions: Transitions
    access: Policy
    tools: ToolService | None
    custom_metrics: CustomMetrics | None

    def journaled(self, run_id: str) -> None:
        self.transitions.spans.journaled(run_id)

    def note_pid(self, run_id: str, pid: int | None) -> None:
        # Shown by runs.get while the run lives; not written to storage: after a crash
        # the run's processes are found by the SEQD_RUN_ID in their environment.
        live = self.transitions.live
        current = live.get(run_id)
        if current is not None and current.status == "running":
            live[run_id] = replace(current, pid=pid)

    async def call_tool(
        self,
        run: Run,
        name: str,
        params: dict[str, Any],
        log: Callable[[str, str], None],
        key: str | None = None,
    ) -> Any:
        """A tool called by a run (a flow state, ``ctx.tool``): the run's scopes, rate
        limits and trace event apply; its log lines go to the run's log. The call is a
        span of the run's trace, under the operation ``key`` (else the run)."""
        if self.tools is None:
            raise ShuttingDown("tools are not available yet")
        role = await self.access.roles.of_submitter(run.submitted_by)
        caller = run_caller(run, key, role)
        return await self.tools.call(name, params, caller, log=log)

    def record_metric(self, run: Run, name: Any, value: Any, kind: Any, labels: Any) -> str | None:
        """A task metric of ``run`` (``ctx.metric``, ``::metric``); why it was dropped,
        or None. Not journaled: a metric is not part of what a replay reproduces."""
        if self.custom_metrics is None:
            return "metrics are off (metrics.enabled = false)"
        return self.custom_metrics.record(run.task, name, value, kind, labels)
