"""The MCP tools: their names, descriptions and input schemas, and which operation of
the gateway each one calls.

Three kinds: the fixed tools (:data:`FIXED`), offered when the ``[mcp]`` settings let
an agent use them at all — reading always; ``run_task``, ``cancel_run`` and
``signal_run`` when some task is exposed; ``call_tool`` when some seqd tool is — and
one tool per exposed task (``run.<task>``, the task's input schema as its own) and per
exposed seqd tool (``tool.<name>``, the tool's parameter schema). The task and tool
lists are asked of the daemon at each ``tools/list``, so a task added or changed is
offered as it is now (and while the daemon cannot be reached, the fixed tools only:
calling one then says so).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
from mcp import types

from seqd.client import ClientError
from seqd_mcp import args as a
from seqd_mcp.gateway import Gateway, Refused

TASK_PREFIX = "run."
TOOL_PREFIX = "tool."
_MCP_NAME = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
"""A tool name MCP clients accept (SEP-986): a task whose name is too long for
``run.<task>`` is run through ``run_task`` only."""
MAX_OWN_TOOLS = 200
"""Most ``run.<task>`` (and, apart, ``tool.<name>``) tools offered, in name order: a
model does not choose well among more; the rest are reached through ``run_task`` and
``call_tool``."""


class NoSuchTool(Exception):
    """``tools/call`` named no tool of this server (an MCP protocol error)."""


Operation = Callable[[Gateway, Any], Awaitable[msgspec.Struct]]


@dataclass(frozen=True)
class Fixed:
    """One of the tools always defined: ``needs`` says what exposure offers it."""

    name: str
    description: str
    args: type[msgspec.Struct]
    call: Operation
    needs: Literal["read", "tasks", "tools"] = "read"
    """``tasks``: offered when some task is runnable; ``tools``: when some tool is."""
    read_only: bool = True


FIXED: tuple[Fixed, ...] = (
    Fixed(
        "list_tasks",
        "The seqd tasks you may see: name, description, type, whether it is valid and "
        "whether you may run it.",
        a.NoArgs,
        lambda g, x: g.list_tasks(),
    ),
    Fixed(
        "describe_task",
        "One task: its description, input schema (JSON Schema of the `input` it takes), "
        "timeout, retries and whether you may run it.",
        a.DescribeTask,
        lambda g, x: g.describe_task(x),
    ),
    Fixed(
        "list_runs",
        "Runs, newest first, optionally of one task or status (queued, running, suspended, "
        "succeeded, failed, cancelled); `cursor` is `next_cursor` of the previous page.",
        a.ListRuns,
        lambda g, x: g.list_runs(x),
    ),
    Fixed(
        "get_run",
        "One run: status, input, output, error, times. `id` is its id, a unique prefix of "
        "it (4+ hex digits), `last` or `last:TASK`.",
        a.RunArgs,
        lambda g, x: g.run(x.id),
    ),
    Fixed(
        "wait_run",
        "Wait until a run ends, at most `timeout_s` seconds, and return it (still going if "
        "the time ran out).",
        a.WaitRun,
        lambda g, x: g.wait_run(x),
    ),
    Fixed(
        "get_logs",
        "A run's log lines (seq, ts, stream, text) after line `after`; `next` is the "
        "`after` of the next page.",
        a.GetLogs,
        lambda g, x: g.logs(x),
    ),
    Fixed(
        "list_schedules",
        "Schedules (at, every, cron) of the tasks you may see: next fire times, last run.",
        a.ListSchedules,
        lambda g, x: g.list_schedules(x),
    ),
    Fixed(
        "run_task",
        "Start a run of a task with `input`. With `wait` (default) it waits up to "
        "`timeout_s` seconds and returns the run, ended or not; with `wait: false` it "
        "returns at once (the run goes on: get_run, wait_run, get_logs, cancel_run).",
        a.RunTask,
        lambda g, x: g.run_task(x),
        needs="tasks",
        read_only=False,
    ),
    Fixed(
        "cancel_run",
        "Cancel a queued, running or suspended run of a task you may run.",
        a.CancelRun,
        lambda g, x: g.cancel(x),
        needs="tasks",
        read_only=False,
    ),
    Fixed(
        "signal_run",
        "Send signal `name` with `data` to a run of a task you may run (a run waiting in "
        "ctx.wait_signal resumes with `data`).",
        a.SignalRun,
        lambda g, x: g.signal(x),
        needs="tasks",
        read_only=False,
    ),
    Fixed(
        "list_tools",
        "The seqd tools you may call, with their parameter schemas.",
        a.NoArgs,
        lambda g, x: g.list_tools(),
        needs="tools",
    ),
    Fixed(
        "call_tool",
        "Call a seqd tool by name with `params` (the daemon's confinement and rate limits apply).",
        a.CallTool,
        lambda g, x: g.call_tool(x),
        needs="tools",
        read_only=False,
    ),
)
BY_NAME = {f.name: f for f in FIXED}


def offered(fixed: Fixed, g: Gateway) -> bool:
    if fixed.needs == "tasks":
        return bool(g.settings.tasks)
    if fixed.needs == "tools":
        return bool(g.settings.tools)
    return True


def _tool(name: str, description: str, schema: dict[str, Any], read_only: bool) -> types.Tool:
    hints = types.ToolAnnotations(read_only_hint=read_only)
    return types.Tool(name=name, description=description, input_schema=schema, annotations=hints)


async def definitions(g: Gateway) -> list[types.Tool]:
    """Every tool offered now."""
    tools = [
        _tool(f.name, f.description, a.input_schema(f.args), f.read_only)
        for f in FIXED
        if offered(f, g)
    ]
    try:
        return tools + await _exposed(g)
    except ClientError:
        return tools  # the daemon is away: its tasks and tools are offered once it is back


async def _exposed(g: Gateway) -> list[types.Tool]:
    """The tools of the tasks and seqd tools the agent may run and call, asked of the
    daemon now."""
    tools = []
    if g.settings.tasks:
        for task in await g.runnable_tasks(MAX_OWN_TOOLS):
            name = TASK_PREFIX + task.name
            if _MCP_NAME.match(name):
                described = task.description or f"Run the seqd task {task.name}."
                wait = f"waits up to {g.settings.wait_s:g}s and returns the run"
                described += f" (runs the task {task.name!r}, {wait})"
                tools.append(_tool(name, described, a.object_schema(task.inputs), False))
    if g.settings.tools:
        for tool in (await g.list_tools()).tools[:MAX_OWN_TOOLS]:
            name = TOOL_PREFIX + tool.name
            if _MCP_NAME.match(name):
                schema = a.object_schema(tool.params_schema)
                tools.append(_tool(name, tool.description, schema, False))
    return tools


async def call(g: Gateway, name: str, arguments: dict[str, Any] | None) -> msgspec.Struct:
    """Run tool ``name``. Raises ``NoSuchTool`` for a name that is no tool,
    ``msgspec.ValidationError`` for bad arguments, ``Refused`` and the client's errors."""
    fixed = BY_NAME.get(name)
    if fixed is not None and offered(fixed, g):
        return await fixed.call(g, a.decode(arguments, fixed.args))
    if name.startswith(TASK_PREFIX) and g.settings.tasks:
        task = name.removeprefix(TASK_PREFIX)
        x = a.decode({"task": task, "input": arguments or {}}, a.RunTask)
        return await g.run_task(x)
    if name.startswith(TOOL_PREFIX) and g.settings.tools:
        x = a.decode({"name": name.removeprefix(TOOL_PREFIX), "params": arguments}, a.CallTool)
        return await g.call_tool(x)
    if fixed is not None:
        raise Refused(
            "not_exposed",
            f"{name} is not offered: the [mcp] settings expose no "
            + ("task to run" if fixed.needs == "tasks" else "seqd tool"),
            {"tool": name},
        )
    raise NoSuchTool(name)
