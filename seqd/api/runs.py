"""``runs.*``: submit (one run or a batch), get, list, wait, cancel, signal, retry, logs,
steps. Every method that takes a run takes a reference to it (``refs``)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from seqd.api.refs import resolve, resolve_id
from seqd.engine.accepting import submit_many
from seqd.model.runs import Run, RunQuery
from seqd.model.schedules import check_caller_key
from seqd.model.status import TERMINAL
from seqd.model.traces import parse_traceparent
from seqd.rpc.dispatch import Caller, Handler
from seqd.rpc.runs import (
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
    SubmitManyParams,
    SubmitManyResult,
    SubmitParams,
    WaitParams,
)

if TYPE_CHECKING:
    from seqd.api.context import Daemon


def handlers(app: Daemon) -> dict[str, Handler]:
    engine = app.engine
    access = app.access

    async def submit(params: SubmitParams, caller: Caller) -> Run:
        trace = None if params.traceparent is None else parse_traceparent(params.traceparent)
        check_caller_key(params.idempotency_key)
        # Shielded: a client that hangs up mid-submit must not half-accept a run.
        run = await asyncio.shield(
            engine.submit(
                params.task,
                params.input,
                idempotency_key=params.idempotency_key,
                priority=params.priority,
                submitted_by=caller.uid,
                trace=trace,
            )
        )
        if params.wait and run.status not in TERMINAL:
            run = await engine.wait(run.id, params.timeout_s)
        return access.run_view(caller, run)

    async def submit_batch(params: SubmitManyParams, caller: Caller) -> SubmitManyResult:
        # Shielded like submit: a batch is accepted whole or not at all.
        runs, created = await asyncio.shield(
            submit_many(
                engine,
                params.task,
                params.inputs,
                idempotency_keys=params.idempotency_keys,
                priority=params.priority,
                submitted_by=caller.uid,
            )
        )
        return SubmitManyResult(ids=[run.id for run in runs], created=created)

    async def get(params: RunIdParams, caller: Caller) -> Run:
        return access.run_view(caller, await resolve(engine, params.id))

    async def wait(params: WaitParams, caller: Caller) -> Run:
        run_id = await resolve_id(engine, params.id)
        return access.run_view(caller, await engine.wait(run_id, params.timeout_s))

    async def list_runs(params: ListParams, caller: Caller) -> ListResult:
        parent = await resolve_id(engine, params.parent_id) if params.parent_id else None
        page = await engine.list(
            RunQuery(
                task=params.task,
                status=params.status,
                parent_id=parent,
                schedule=params.schedule,
                roots_only=params.roots_only,
                limit=params.limit,
                cursor=params.cursor,
            )
        )
        children: dict[str, int] = {}
        if params.count_children and page.runs:
            children = await app.storage.count_children([run.id for run in page.runs])
        runs = [access.run_view(caller, run) for run in page.runs]
        return ListResult(runs=runs, next_cursor=page.next_cursor, children=children)

    async def cancel(params: CancelParams, caller: Caller) -> Run:
        run_id = await resolve_id(engine, params.id)
        return access.run_view(caller, await engine.cancel(run_id, params.reason, caller))

    async def signal(params: SignalParams, caller: Caller) -> Run:
        run_id = await resolve_id(engine, params.id)
        run = await engine.signal(run_id, params.name, params.data, caller)
        return access.run_view(caller, run)

    async def retry(params: RetryParams, caller: Caller) -> Run:
        run_id = await resolve_id(engine, params.id)
        return access.run_view(caller, await engine.retry(run_id, caller))

    async def logs(params: LogsParams, caller: Caller) -> LogsResult:
        run = await resolve(engine, params.id)
        access.check_data(caller, run, "logs")
        lines = await app.storage.read_logs(run.id, params.after, params.limit)
        last = lines[-1].seq if lines else params.after
        finished = run.status in TERMINAL and len(lines) < params.limit
        return LogsResult(lines=lines, next=last, finished=finished)

    async def steps(params: StepsParams, caller: Caller) -> StepsResult:
        run = await resolve(engine, params.id)
        access.check_data(caller, run, "journal entries")
        found = await app.storage.read_steps(run.id, params.after, params.limit)
        last = found[-1].seq if found else params.after
        finished = run.status in TERMINAL and len(found) < params.limit
        return StepsResult(steps=found, next=last, finished=finished)

    return {
        "runs.steps": steps,
        "runs.signal": signal,
        "runs.retry": retry,
        "runs.submit": submit,
        "runs.submit_many": submit_batch,
        "runs.get": get,
        "runs.wait": wait,
        "runs.list": list_runs,
        "runs.cancel": cancel,
        "runs.logs": logs,
    }
