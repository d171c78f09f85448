"""``runs.*``: submit, get, list, wait, cancel, signal, retry, logs, steps."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from seqd.model.runs import Run, RunQuery
from seqd.model.status import TERMINAL
from seqd.rpc.dispatch import Caller, Handler
from seqd.rpc.protocol import (
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
    SubmitParams,
    WaitParams,
)

if TYPE_CHECKING:
    from seqd.api.context import Daemon


def handlers(app: Daemon) -> dict[str, Handler]:
    engine = app.engine
    access = app.access

    async def submit(params: SubmitParams, caller: Caller) -> Run:
        # Shielded: a client that hangs up mid-submit must not half-accept a run.
        run = await asyncio.shield(
            engine.submit(
                params.task,
                params.input,
                idempotency_key=params.idempotency_key,
                priority=params.priority,
                submitted_by=caller.uid,
            )
        )
        if params.wait and run.status not in TERMINAL:
            run = await engine.wait(run.id, params.timeout_s)
        return access.run_view(caller, run)

    async def get(params: RunIdParams, caller: Caller) -> Run:
        return access.run_view(caller, await engine.get(params.id))

    async def wait(params: WaitParams, caller: Caller) -> Run:
        return access.run_view(caller, await engine.wait(params.id, params.timeout_s))

    async def list_runs(params: ListParams, caller: Caller) -> ListResult:
        page = await engine.list(
            RunQuery(
                task=params.task,
                status=params.status,
                parent_id=params.parent_id,
                limit=params.limit,
                cursor=params.cursor,
            )
        )
        runs = [access.run_view(caller, run) for run in page.runs]
        return ListResult(runs=runs, next_cursor=page.next_cursor)

    async def cancel(params: CancelParams, caller: Caller) -> Run:
        return access.run_view(caller, await engine.cancel(params.id, params.reason, caller))

    async def signal(params: SignalParams, caller: Caller) -> Run:
        run = await engine.signal(params.id, params.name, params.data, caller)
        return access.run_view(caller, run)

    async def retry(params: RetryParams, caller: Caller) -> Run:
        return access.run_view(caller, await engine.retry(params.id, caller))

    async def logs(params: LogsParams, caller: Caller) -> LogsResult:
        run = await engine.get(params.id)
        access.check_data(caller, run, "logs")
        lines = await app.storage.read_logs(params.id, params.after, params.limit)
        last = lines[-1].seq if lines else params.after
        finished = run.status in TERMINAL and len(lines) < params.limit
        return LogsResult(lines=lines, next=last, finished=finished)

    async def steps(params: StepsParams, caller: Caller) -> StepsResult:
        run = await engine.get(params.id)
        access.check_data(caller, run, "journal entries")
        found = await app.storage.read_steps(params.id, params.after, params.limit)
        last = found[-1].seq if found else params.after
        finished = run.status in TERMINAL and len(found) < params.limit
        return StepsResult(steps=found, next=last, finished=finished)

    return {
        "runs.steps": steps,
        "runs.signal": signal,
        "runs.retry": retry,
        "runs.submit": submit,
        "runs.get": get,
        "runs.wait": wait,
        "runs.list": list_runs,
        "runs.cancel": cancel,
        "runs.logs": logs,
    }
