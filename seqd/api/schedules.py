"""``schedules.*``: create, list, get, update, pause, resume, delete, trigger.

Thin: the rules are ``seqd.scheduler.operations``'s. Changes are shielded, so a client
that hangs up mid-request never leaves a change half made.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from seqd.model.runs import Run
from seqd.model.schedules import definition
from seqd.rpc.dispatch import Caller, Handler
from seqd.rpc.schedules import (
    ScheduleDeleted,
    ScheduleInfo,
    ScheduleListParams,
    ScheduleListResult,
    ScheduleNameParams,
    ScheduleParams,
)

if TYPE_CHECKING:
    from seqd.api.context import Daemon


def handlers(app: Daemon) -> dict[str, Handler]:
    ops = app.schedules

    async def create(params: ScheduleParams, caller: Caller) -> ScheduleInfo:
        return await asyncio.shield(ops.create(params.name, definition(params), caller.uid))

    async def list_schedules(params: ScheduleListParams, caller: Caller) -> ScheduleListResult:
        found, cursor = await ops.list(params.task, params.after, params.limit)
        return ScheduleListResult(schedules=found, next_cursor=cursor)

    async def get(params: ScheduleNameParams, caller: Caller) -> ScheduleInfo:
        return await ops.get(params.name)

    async def update(params: ScheduleParams, caller: Caller) -> ScheduleInfo:
        change = ops.update(params.name, definition(params), caller.uid, caller.admin)
        return await asyncio.shield(change)

    async def pause(params: ScheduleNameParams, caller: Caller) -> ScheduleInfo:
        return await asyncio.shield(ops.pause(params.name, caller.uid, caller.admin))

    async def resume(params: ScheduleNameParams, caller: Caller) -> ScheduleInfo:
        return await asyncio.shield(ops.resume(params.name, caller.uid, caller.admin))

    async def delete(params: ScheduleNameParams, caller: Caller) -> ScheduleDeleted:
        deleted = await asyncio.shield(ops.delete(params.name, caller.uid, caller.admin))
        return ScheduleDeleted(name=params.name, deleted=deleted)

    async def trigger(params: ScheduleNameParams, caller: Caller) -> Run:
        return await asyncio.shield(ops.trigger(params.name, caller.uid, caller.admin))

    return {
        "schedules.create": create,
        "schedules.list": list_schedules,
        "schedules.get": get,
        "schedules.update": update,
        "schedules.pause": pause,
        "schedules.resume": resume,
        "schedules.delete": delete,
        "schedules.trigger": trigger,
    }
