"""What callers do to schedules: create, update, pause, resume, trigger, delete, read.

Its own module because these are the rules of changing a schedule, apart from the
timer loop that fires it: a definition is checked (``spec``) and its task and input
are checked against the catalog before anything is stored; each change is stored,
then held by the scheduler, under the schedule's lock; only the user who created a
schedule, or an admin, may change, trigger or delete it; and a schedule defined in a
task's config.json is changed by editing that file, not through the API.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from seqd.engine.validation import check_size
from seqd.errors import Conflict, NotFound, PermissionDenied
from seqd.model import timeutil
from seqd.model.runs import Run
from seqd.model.schedules import (
    TIMING_FIELDS,
    Schedule,
    ScheduleSpec,
    definition,
    new_schedule,
)
from seqd.rpc.schedules import ScheduleInfo, ScheduleState
from seqd.scheduler.entries import Entry, seconds_of
from seqd.scheduler.scheduler import Scheduler
from seqd.scheduler.spec import Plan, check_name, compile_plan

NEXT_FIRES = 3


class Operations:
    def __init__(self, scheduler: Scheduler, max_input_bytes: int) -> None:
        self.scheduler = scheduler
        self.max_input_bytes = max_input_bytes
        self._creating: set[str] = set()
        """Names being created: a second create of one waits for no check to pass."""

    # -- reading ----------------------------------------------------------------------

    def entry(self, name: str) -> Entry:
        entry = self.scheduler.entries.get(name)
        if entry is None:
            raise NotFound(f"no schedule named {name!r}", {"name": name})
        return entry

    async def info(self, entry: Entry) -> ScheduleInfo:
        record = entry.record
        upcoming = self.scheduler.upcoming(entry, NEXT_FIRES)
        state: ScheduleState
        if entry.plan is None:
            state = "broken"
        elif record.paused:
            state = "paused"
        else:
            state = "active" if upcoming or record.queued else "done"
        last = await self.scheduler.newest_run(record.name)
        return ScheduleInfo(
            **msgspec.structs.asdict(record),
            zone=entry.plan.zone if entry.plan is not None else record.tz or self.scheduler.zone,
            state=state,
            problem=entry.problem,
            next_fires=upcoming,
            last_run=last,
        )

    async def get(self, name: str) -> ScheduleInfo:
        return await self.info(self.entry(name))

    async def list(
        self, task: str | None, after: str | None, limit: int
    ) -> tuple[list[ScheduleInfo], str | None]:
        names = sorted(
            name
            for name, entry in self.scheduler.entries.items()
            if (after is None or name > after) and (task is None or entry.record.task == task)
        )
        page = names[:limit]
        infos = await asyncio.gather(*(self.info(self.scheduler.entries[n]) for n in page))
        return list(infos), page[-1] if len(names) > limit else None

    # -- changing ---------------------------------------------------------------------

    async def _plan(self, spec: ScheduleSpec, created: int) -> Plan:
        """Check ``spec`` (in a thread: its zone may be read) and its task and input."""
        scheduler = self.scheduler
        plan = await asyncio.to_thread(
            compile_plan, spec, created=created, default_zone=scheduler.zone
        )
        task = await scheduler.catalog.resolved(scheduler.catalog.get(spec.task))
        check_size("input", spec.input, self.max_input_bytes)
        if task.runnable:
            scheduler.catalog.check_input(task, spec.input)
        return plan

    async def create(self, name: str, spec: ScheduleSpec, uid: int) -> ScheduleInfo:
        check_name(name)
        if name in self.scheduler.entries or name in self._creating:
            raise Conflict(f"a schedule named {name!r} exists", {"name": name})
        self._creating.add(name)
        try:
            now = timeutil.now()
            plan = await self._plan(spec, seconds_of(now))
            record = new_schedule(spec, name=name, origin="api", created_by=uid, now=now)
            await self.scheduler.storage.save_schedule(record)
            entry = self.scheduler.put(record, plan)
        finally:
            self._creating.discard(name)
        return await self.info(entry)

    async def update(self, name: str, spec: ScheduleSpec, uid: int, admin: bool) -> ScheduleInfo:
        entry = self._changeable(name, uid, admin, "change")
        async with entry.lock:
            self._still_held(entry)
            plan = await self._plan(spec, seconds_of(entry.record.created_at))
            record = replace_definition(entry.record, spec)
            await self.scheduler.storage.save_schedule(record)
            return await self.info(self.scheduler.put(record, plan))

    async def pause(self, name: str, uid: int, admin: bool) -> ScheduleInfo:
        entry = self._changeable(name, uid, admin, "pause")
        async with entry.lock:
            self._still_held(entry)
            if not entry.record.paused:
                await self.scheduler.save(entry, paused=True, updated_at=timeutil.now())
                self.scheduler.alarm.clear(name)
        return await self.info(entry)

    async def resume(self, name: str, uid: int, admin: bool) -> ScheduleInfo:
        """Fire again from now on: what fell due while paused is not caught up."""
        entry = self._changeable(name, uid, admin, "resume")
        async with entry.lock:
            self._still_held(entry)
            if entry.record.paused:
                now = timeutil.now()
                cursor = max(entry.record.cursor, now)
                await self.scheduler.save(entry, paused=False, cursor=cursor, updated_at=now)
                self.scheduler.kick(name)
                if entry.record.queued:
                    self.scheduler.start_drain(entry)
        return await self.info(entry)

    async def delete(self, name: str, uid: int, admin: bool) -> bool:
        entry = self._changeable(name, uid, admin, "delete")
        async with entry.lock:
            self._still_held(entry)
            deleted = await self.scheduler.storage.delete_schedule(name)
            self.scheduler.forget(name)
        return deleted

    async def trigger(self, name: str, uid: int, admin: bool) -> Run:
        """A run of the schedule's task now, outside its timing and its overlap policy;
        its ``scheduled_for`` is now, and it has no idempotency key."""
        entry = self.entry(name)
        _check_owner(entry.record, uid, admin, "trigger")
        run = await self.scheduler.submit(entry, timeutil.now(), trigger_by=uid)
        assert run is not None
        return run

    def _changeable(self, name: str, uid: int, admin: bool, verb: str) -> Entry:
        entry = self.entry(name)
        record = entry.record
        if record.origin == "config":
            raise Conflict(
                f"schedule {name!r} is defined in the config.json of task {record.task!r}; "
                f"to {verb} it, edit that file",
                {"name": name, "task": record.task},
            )
        _check_owner(record, uid, admin, verb)
        return entry

    def _still_held(self, entry: Entry) -> None:
        if self.scheduler.entries.get(entry.record.name) is not entry:
            raise NotFound(f"schedule {entry.record.name!r} was just changed or deleted; again")


def replace_definition(record: Schedule, spec: ScheduleSpec) -> Schedule:
    """``record`` with the definition ``spec``; if when it fires changed, its cursor
    moves to now (times the old definition did not have are not "missed")."""
    changes: dict[str, Any] = msgspec.structs.asdict(definition(spec))
    now = timeutil.now()
    if any(getattr(record, f) != changes[f] for f in TIMING_FIELDS):
        changes["cursor"] = max(record.cursor, now)
    return msgspec.structs.replace(record, **changes, updated_at=now)


def _check_owner(record: Schedule, uid: int, admin: bool, verb: str) -> None:
    if not admin and record.created_by is not None and record.created_by != uid:
        raise PermissionDenied(
            f"only the user who created a schedule, or an admin, may {verb} it",
            {"name": record.name, "created_by": record.created_by},
        )
