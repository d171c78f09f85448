"""What an agent may do, asked of the daemon: every MCP tool and resource goes through
here, so the ``[mcp]`` exposure is checked in one place.

Each operation checks the exposure (``settings.Exposure``) first, then calls the
daemon as the user who started ``seqctl mcp``; the daemon adds its own checks (role,
input schema, confinement, rate limits). A run named by a reference (``last``, an id
prefix) is resolved once and then acted on by its full id, so the run that was checked
is the run acted on. Results are the daemon's types or those of ``answers``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from seqd.client import AsyncClient
from seqd.model.runs import Run
from seqd.model.tasks import TaskDef
from seqd.rpc.tools import ToolCallResult
from seqd_mcp import answers as ans
from seqd_mcp import args as a
from seqd_mcp.settings import Exposure

SCAN_RUNS = 2000
"""Most runs one ``list_runs`` reads while it filters out runs of hidden tasks."""


class Refused(Exception):
    """The agent may not do this (``[mcp]``) or asked for something invalid; ``type``
    and ``details`` as the daemon's errors have them."""

    def __init__(self, type: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.type = type
        self.message = message
        self.details = details or {}


def plain(value: msgspec.Struct) -> Any:
    """An answer as JSON-able builtins."""
    return msgspec.to_builtins(value)


class Gateway:
    def __init__(self, client: AsyncClient, exposure: Exposure) -> None:
        self.client = client
        self.exposure = exposure
        self.settings = exposure.settings

    # -- tasks ---------------------------------------------------------------------------

    async def list_tasks(self) -> ans.Tasks:
        tasks = [t for t in await self.client.tasks() if self.exposure.readable(t.name)]
        return ans.Tasks(
            tasks=[
                ans.TaskEntry(
                    name=t.name,
                    description=t.description,
                    type=t.type,
                    valid=t.valid,
                    runnable=self.exposure.runnable(t.name),
                )
                for t in tasks
            ]
        )

    async def runnable_tasks(self, limit: int) -> list[TaskDef]:
        """The definitions of the first ``limit`` tasks (by name) an agent may run."""
        names = [t.name for t in await self.client.tasks() if self.exposure.runnable(t.name)]
        names = sorted(names)[:limit]
        found = await self.client.batch([("tasks.get", {"name": n}) for n in names])
        return [t for t in found if isinstance(t, TaskDef)]  # one just removed: left out

    async def describe_task(self, x: a.DescribeTask) -> ans.TaskDescription:
        self._readable(x.name)
        task = await self.client.task(x.name)
        return ans.TaskDescription(task=task, runnable=self.exposure.runnable(x.name))

    async def run_task(self, x: a.RunTask) -> Run:
        if not self.exposure.runnable(x.task):
            raise Refused(
                "not_exposed",
                f"task {x.task!r} is not one agents may run (the [mcp] tasks patterns)",
                {"task": x.task},
            )
        timeout = self._wait("timeout_s", x.timeout_s) if x.wait else None
        run: Run = await self.client.submit(x.task, x.input, wait=x.wait, timeout_s=timeout)
        return run

    # -- runs ----------------------------------------------------------------------------

    async def run(self, ref: str) -> Run:
        """The run ``ref`` names, if its task is readable."""
        run: Run = await self.client.get_run(ref)
        if not self.exposure.readable(run.task):
            raise Refused(
                "not_exposed",
                f"run {ref!r} is of a task agents may not see",
                {"id": ref},
            )
        return run

    async def wait_run(self, x: a.WaitRun) -> Run:
        run = await self.run(x.id)
        waited: Run = await self.client.wait(run.id, self._wait("timeout_s", x.timeout_s))
        return waited

    async def list_runs(self, x: a.ListRuns) -> ans.Runs:
        if x.task is not None:
            self._readable(x.task)
        kept: list[Run] = []
        cursor, scanned = x.cursor, 0
        filtering = x.task is None and not self.exposure.reads_everything
        while True:
            page = await self.client.list_runs(
                task=x.task, status=x.status, limit=x.limit, cursor=cursor
            )
            kept += [r for r in page.runs if self.exposure.readable(r.task)]
            cursor, scanned = page.next_cursor, scanned + len(page.runs)
            if not filtering or len(kept) >= x.limit or not cursor or scanned >= SCAN_RUNS:
                break
        return ans.Runs(runs=[ans.RunSummary.of(r) for r in kept], next_cursor=cursor)

    async def logs(self, x: a.GetLogs) -> ans.RunLogs:
        run = await self.run(x.id)
        page = await self.client.logs(run.id, after=x.after, limit=x.limit)
        return ans.RunLogs(
            id=run.id, status=run.status, lines=page.lines, next=page.next, finished=page.finished
        )

    async def cancel(self, x: a.CancelRun) -> Run:
        run = await self._actionable(x.id)
        cancelled: Run = await self.client.cancel(run.id, x.reason)
        return cancelled

    async def signal(self, x: a.SignalRun) -> Run:
        run = await self._actionable(x.id)
        signalled: Run = await self.client.signal(run.id, x.name, x.data)
        return signalled

    # -- tools and schedules -------------------------------------------------------------

    async def list_tools(self) -> ans.Tools:
        tools = [t for t in await self.client.tools() if self.exposure.callable_tool(t.name)]
        return ans.Tools(
            tools=[msgspec.convert(t, ans.ToolEntry, from_attributes=True) for t in tools]
        )

    async def call_tool(self, x: a.CallTool) -> ToolCallResult:
        if not self.exposure.callable_tool(x.name):
            raise Refused(
                "not_exposed",
                f"tool {x.name!r} is not one agents may call (the [mcp] tools patterns)",
                {"tool": x.name},
            )
        called: ToolCallResult = await self.client.call_tool(x.name, x.params)
        return called

    async def list_schedules(self, x: a.ListSchedules) -> ans.Schedules:
        if x.task is not None:
            self._readable(x.task)
        page = await self.client.schedules(task=x.task, limit=x.limit)
        shown = [s for s in page.schedules if self.exposure.readable(s.task)]
        return ans.Schedules(schedules=shown, next_cursor=page.next_cursor)

    # -- checks --------------------------------------------------------------------------

    def _readable(self, task: str) -> None:
        if not self.exposure.readable(task):
            raise Refused(
                "not_exposed",
                f"task {task!r} is not one agents may see (the [mcp] read_tasks patterns)",
                {"task": task},
            )

    async def _actionable(self, ref: str) -> Run:
        """The run ``ref`` names, if its task is one the agent may run (and so act on)."""
        run = await self.run(ref)
        if not self.exposure.runnable(run.task):
            raise Refused(
                "not_exposed",
                f"run {run.id} is of task {run.task!r}, which agents may not run, "
                "so they may not cancel or signal its runs either",
                {"id": run.id, "task": run.task},
            )
        return run

    def _wait(self, field: str, asked: float | None) -> float:
        """How long to wait: ``asked`` (at most ``max_wait_s``) or ``wait_s``."""
        if asked is None:
            return min(self.settings.wait_s, self.settings.max_wait_s)
        if asked > self.settings.max_wait_s:
            raise Refused(
                "validation",
                f"{field}: at most {self.settings.max_wait_s:g} seconds ([mcp] max_wait_s)",
                {"field": field},
            )
        return asked
