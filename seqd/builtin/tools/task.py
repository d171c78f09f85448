"""The built-in ``task.run`` tool: start a run of a task and, by default, wait for it.

From a run, the new run is its child (``parent_id``, same ``root_id``); over RPC it is
submitted as the caller's uid, exactly like ``runs.submit``. Waiting holds the calling
run's worker slot: with ``workers = 1`` a run that waits for another run waits forever
for a free slot — use ``wait: false`` there, or more workers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from seqd import hookimpl
from seqd.model.runs import RunError
from seqd.model.schedules import check_caller_key
from seqd.model.status import TERMINAL
from seqd.model.tasks import TASK_NAME_PATTERN
from seqd.plugins.tools import Tool, ToolContext


class RunParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    task: Annotated[str, Meta(pattern=TASK_NAME_PATTERN)]
    input: dict[str, Any] = {}
    wait: bool = True
    timeout_s: Annotated[float, Meta(ge=0, le=86400 * 7)] | None = None
    """How long to wait; the run goes on after it (``status`` not terminal then)."""
    idempotency_key: Annotated[str, Meta(min_length=1, max_length=256)] | None = None
    priority: Annotated[int, Meta(ge=-1000, le=1000)] = 0


class RunResult(msgspec.Struct, kw_only=True):
    id: str
    task: str
    status: str
    finished: bool
    output: Any = None
    error: RunError | None = None


class TaskRun:
    name = "task.run"
    description = "Start a run of a task; optionally wait for it and return its outcome."
    params_schema = RunParams
    result_schema = RunResult

    async def call(self, params: RunParams, ctx: ToolContext) -> RunResult:
        caller = ctx.caller
        check_caller_key(params.idempotency_key)
        run = await ctx.runs.submit(
            params.task,
            params.input,
            idempotency_key=params.idempotency_key,
            priority=params.priority,
            submitted_by=caller.uid,
            parent_id=caller.run_id,
            root_id=caller.root_id or caller.run_id,
        )
        if params.wait and run.status not in TERMINAL:
            run = await ctx.runs.wait(run.id, params.timeout_s)
        return RunResult(
            id=run.id,
            task=run.task,
            status=run.status,
            finished=run.status in TERMINAL,
            output=run.output,
            error=run.error,
        )


@hookimpl
def seqd_register_tools(register: Callable[[Tool], None]) -> None:
    register(TaskRun())
