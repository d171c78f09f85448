"""The two effects a flow has on the world: a child run, and a tool call.

Each turns whatever happens (the run's end, an error raised, plugin code failing) into
an ``Outcome``, so the states above never handle exceptions of their own. Its own module
because task states, map items and compensation all start child runs the same way, and
cancelling a child with the right reason is subtle enough to live in one place.
"""

from __future__ import annotations

import asyncio
from typing import Any

from seqd.errors import SeqdError, TaskFailed
from seqd.flow.cancelscope import Scope
from seqd.flow.outcome import Outcome, failed
from seqd.model.runs import Run, RunError
from seqd.plugins.tasktype import Job


async def run_child(
    job: Job, task: str, payload: Any, key: str, scope: Scope, span_key: str
) -> Outcome:
    """Start a child run of ``task`` under ``key`` (or find the one started under it
    before a restart) and wait for its end; its span hangs under the span of the
    entry ``span_key`` (the state's). Cancelled, it cancels the child with the scope's
    reason — unless the daemon is stopping: then the child is left alone and the
    resumed flow picks up its result."""
    if not isinstance(payload, dict):
        return failed(
            type="validation",
            message=f"the input for task {task!r} must be an object, not {type(payload).__name__}",
        )
    try:
        child = await job.start_child(task, payload, key=key, span_key=span_key)
    except SeqdError as exc:
        return _refused(exc)
    try:
        done = await job.wait_run(child.id)
    except asyncio.CancelledError:
        if job.cancel_kind != "shutdown":
            why = scope.reason() or _cancel_message(job)
            await asyncio.shield(job.cancel_run(child.id, why))
        raise
    if done.status == "succeeded":
        return Outcome(True, done.output, child_id=done.id)
    return Outcome(False, error=_error_of(done), child_id=done.id)


async def call_tool(job: Job, name: str, params: Any, key: str) -> Outcome:
    """Call a tool on the flow run's behalf for the state journaled under ``key`` (its
    span is the call's parent); any failure is the state's."""
    if not isinstance(params, dict):
        return failed(type="validation", message=f"the params for tool {name!r} must be an object")
    try:
        return Outcome(True, await job.call_tool(name, params, key=key))
    except SeqdError as exc:
        return _refused(exc)
    except TaskFailed as exc:
        return failed(type=exc.type, message=exc.message, details=exc.details)
    except Exception as exc:  # a tool is plugin code: its failure is the state's
        return failed(type="exception", message=f"{type(exc).__name__}: {exc}")


def _cancel_message(job: Job) -> str:
    reason = job.cancel_reason
    message = reason[1] if reason is not None else "cancelled"
    return f"its flow {job.run.id} ended: {message}"


def _refused(exc: SeqdError) -> Outcome:
    """The daemon refused (no such task or tool, bad input...): the state failed."""
    return failed(type=exc.type, message=str(exc), details=exc.details)


def _error_of(run: Run) -> RunError:
    if run.error is not None:
        return run.error
    return RunError(type=run.status, message=f"run {run.id} ended {run.status}")
