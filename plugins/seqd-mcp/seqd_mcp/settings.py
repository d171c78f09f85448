"""``[mcp]``: what an agent connected through ``seqctl mcp`` may see and do.

Exposure is by glob patterns (``fnmatch``, case-sensitive) on task and tool names.
Nothing runs by default: an agent reads (tasks' definitions, runs, logs, schedules)
and runs or calls only what ``tasks`` and ``tools`` name. The daemon's own rules come
on top — the agent acts as the user who started ``seqctl mcp``, with that user's role.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Annotated

import msgspec
from msgspec import Meta

SECTION = "mcp"

Glob = Annotated[str, Meta(min_length=1, max_length=256)]


class McpSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The ``[mcp]`` table (every key optional)."""

    tasks: list[Glob] = []
    """Tasks an agent may run (each is also offered as a tool of its own, with the
    task's input schema) and whose runs it may cancel and signal."""
    tools: list[Glob] = []
    """seqd tools an agent may see and call (through ``tools.call``: the daemon's
    confinement, roles and rate limits apply)."""
    read_tasks: list[Glob] = msgspec.field(default_factory=lambda: ["*"])
    """Tasks whose definitions, runs, logs and schedules an agent may read; the tasks
    of ``tasks`` always are. ``[]``: only those."""
    wait_s: Annotated[float, Meta(ge=0, le=3600)] = 60.0
    """How long a task's own tool waits for its run to end before it answers with the
    run still going (the agent can then wait, poll or cancel it)."""
    max_wait_s: Annotated[float, Meta(gt=0, le=86400)] = 600.0
    """The longest wait an agent may ask for (``run_task``, ``wait_run``)."""


@dataclass(frozen=True)
class Exposure:
    """The settings as questions: may the agent read, run, call this name?"""

    settings: McpSettings

    def runnable(self, task: str) -> bool:
        return _matches(task, self.settings.tasks)

    def readable(self, task: str) -> bool:
        return self.runnable(task) or _matches(task, self.settings.read_tasks)

    def callable_tool(self, tool: str) -> bool:
        return _matches(tool, self.settings.tools)

    @property
    def reads_everything(self) -> bool:
        """Every task is readable: listings need no filtering."""
        return "*" in self.settings.read_tasks or "*" in self.settings.tasks


def _matches(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatchcase(name, p) for p in patterns)


def overridden(
    settings: McpSettings,
    tasks: Sequence[str] | None = None,
    tools: Sequence[str] | None = None,
    read_tasks: Sequence[str] | None = None,
) -> McpSettings:
    """``settings`` with the lists given on the command line in place of the file's
    (a flag given at all replaces that key; checked like the file's values)."""
    changed = msgspec.structs.asdict(settings)
    for key, value in (("tasks", tasks), ("tools", tools), ("read_tasks", read_tasks)):
        if value is not None:
            changed[key] = list(value)
    return msgspec.convert(changed, McpSettings)
