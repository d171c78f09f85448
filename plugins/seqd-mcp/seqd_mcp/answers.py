"""What the tools answer, as Structs: the structured content an agent gets (and, as
JSON, the text it reads). Where the daemon's own type says it all (``Run``,
``ToolCallResult``) the tools answer with that; these are the answers seqd-mcp shapes
itself — listings narrowed to what the agent may see, and summaries that keep a
listing short."""

from __future__ import annotations

from typing import Any

import msgspec

from seqd.model.runs import LogLine, Run, RunError, RunStatus
from seqd.model.tasks import TaskDef
from seqd.rpc.schedules import ScheduleInfo


class Answer(msgspec.Struct, kw_only=True):
    pass


class TaskEntry(Answer):
    name: str
    description: str
    type: str | None
    valid: bool
    runnable: bool
    """Whether the agent may run it (``[mcp] tasks``)."""


class Tasks(Answer):
    tasks: list[TaskEntry]


class TaskDescription(Answer):
    task: TaskDef
    runnable: bool


class RunSummary(Answer):
    """A run in a listing: enough to pick one and ``get_run`` it."""

    id: str
    task: str
    status: RunStatus
    attempt: int
    parent_id: str | None
    schedule: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    error: RunError | None

    @classmethod
    def of(cls, run: Run) -> RunSummary:
        """The summary's fields of ``run``."""
        return msgspec.convert(run, cls, from_attributes=True)


class Runs(Answer):
    runs: list[RunSummary]
    next_cursor: str | None


class RunLogs(Answer):
    id: str
    status: RunStatus
    lines: list[LogLine]
    next: int
    """``after`` of the next page."""
    finished: bool
    """The run has ended and every line has been read."""


class ToolEntry(Answer):
    name: str
    description: str
    valid: bool
    params_schema: dict[str, Any] | None
    result_schema: dict[str, Any] | None


class Tools(Answer):
    tools: list[ToolEntry]


class Schedules(Answer):
    schedules: list[ScheduleInfo]
    next_cursor: str | None
