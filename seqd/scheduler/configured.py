"""Schedules defined in task configs: ``"schedules": [...]`` in a task's config.json.

Each entry is a definition without ``task`` (it is the task's own) and with a ``name``;
the schedule is ``<task>/<name>``. ``config_problems`` is the check the catalog runs on
the section when it loads a task, so a bad entry is one of the task's problems (``seqctl
tasks validate``). ``sync`` makes the stored schedules follow the configs after every
(re)load: a new entry is created (its fires start from now), a changed one replaced
(its cursor kept unless its timing changed), a removed one — or one whose task is
gone — deleted. A task whose config.json cannot be read at the moment keeps the
schedules it had. Changing such a schedule through the API is refused (``operations``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec

from seqd.catalog.catalog import Catalog
from seqd.errors import ValidationFailed
from seqd.model import timeutil
from seqd.model.schedules import Schedule, ScheduleSpec, definition, new_schedule
from seqd.model.tasks import Problem
from seqd.scheduler.operations import replace_definition
from seqd.scheduler.scheduler import Scheduler
from seqd.scheduler.spec import check_name, compile_plan

logger = logging.getLogger("seqd.scheduler")

SECTION = "schedules"
"""The key of config.json this module reads."""
MAX_ENTRIES = 100


class ConfigEntry(ScheduleSpec, forbid_unknown_fields=True, kw_only=True):
    """One entry of ``"schedules"``: a definition (its ``task`` is filled in) and a name."""

    name: str


def read_entries(raw: Any, task: str) -> tuple[dict[str, ScheduleSpec], list[Problem]]:
    """The valid entries of a ``"schedules"`` value by full name, and the problems of
    the others (``where`` is the path in config.json, such as ``schedules[1].cron``).
    Checks zones, so may read zone files: call it off the event loop."""
    specs: dict[str, ScheduleSpec] = {}
    problems: list[Problem] = []
    if not isinstance(raw, list) or len(raw) > MAX_ENTRIES:
        message = f"must be a list of at most {MAX_ENTRIES} schedules"
        return specs, [Problem(where=SECTION, message=message)]
    for i, item in enumerate(raw):
        where = f"{SECTION}[{i}]."
        if not isinstance(item, dict):
            problems.append(Problem(where=where[:-1], message="must be an object"))
            continue
        if "task" in item:
            message = "a task's schedules run the task itself: leave task out"
            problems.append(Problem(where=f"{where}task", message=message))
            continue
        try:
            entry = msgspec.convert({**item, "task": task}, ConfigEntry)
            check_name(entry.name, f"{where}name")
            full = f"{task}/{entry.name}"
            if full in specs:
                raise ValidationFailed(
                    f"{where}name: {entry.name!r} names two schedules", {"field": f"{where}name"}
                )
            compile_plan(entry, created=0, default_zone="UTC", where=where)
        except msgspec.ValidationError as exc:
            problems.append(Problem(where=where[:-1], message=str(exc)))
            continue
        except ValidationFailed as exc:
            field = str(exc.details.get("field", where[:-1]))
            message = exc.message.removeprefix(f"{field}: ")
            problems.append(Problem(where=field, message=message))
            continue
        specs[full] = definition(entry)
    return specs, problems


def config_problems(raw: Any) -> list[Problem]:
    """The catalog's check of a task's ``"schedules"`` section."""
    return read_entries(raw, "task")[1]


def _wanted(catalog: Catalog) -> tuple[dict[str, ScheduleSpec], set[str]]:
    """What the configs define now, and the tasks whose config cannot be read."""
    wanted: dict[str, ScheduleSpec] = {}
    unreadable: set[str] = set()
    for name, entry in list(catalog.entries.items()):
        if entry.source is None:
            unreadable.add(name)
            continue
        raw = entry.source.config.get(SECTION)
        if raw is not None:
            wanted.update(read_entries(raw, name)[0])
    return wanted, unreadable


async def sync(scheduler: Scheduler, catalog: Catalog) -> None:
    """Make the config-defined schedules held (and stored) match the task configs."""
    async with scheduler.sync_lock:
        wanted, unreadable = await asyncio.to_thread(_wanted, catalog)
        for name, entry in list(scheduler.entries.items()):
            record = entry.record
            if record.origin != "config" or name in wanted or record.task in unreadable:
                continue
            async with entry.lock:
                if scheduler.entries.get(name) is entry:
                    await scheduler.storage.delete_schedule(name)
                    scheduler.forget(name)
                    logger.info("schedule %s removed: no longer in its task's config", name)
        changed = [
            _record(scheduler, name, spec)
            for name, spec in wanted.items()
            if _differs(scheduler, name, spec)
        ]
        plans = await asyncio.to_thread(lambda: [scheduler.compile(r) for r in changed])
        for record, (plan, problem) in zip(changed, plans, strict=True):
            held = scheduler.entries.get(record.name)
            if held is None:
                await scheduler.storage.save_schedule(record)
                scheduler.put(record, plan, problem)
                logger.info("schedule %s created from its task's config", record.name)
                continue
            async with held.lock:  # its cursor may have moved since: keep it
                record = replace_definition(held.record, definition(record))
                await scheduler.storage.save_schedule(record)
                scheduler.put(record, plan, problem)
                logger.info("schedule %s updated from its task's config", record.name)


def _differs(scheduler: Scheduler, name: str, spec: ScheduleSpec) -> bool:
    entry = scheduler.entries.get(name)
    if entry is None:
        return True
    if entry.record.origin != "config":
        logger.error("schedule %s: the name is taken by a schedule made over the API", name)
        return False
    return definition(entry.record) != spec


def _record(scheduler: Scheduler, name: str, spec: ScheduleSpec) -> Schedule:
    """The record of ``spec``: a new one, or the held one with ``spec`` as definition."""
    entry = scheduler.entries.get(name)
    if entry is not None:
        return replace_definition(entry.record, spec)
    return new_schedule(spec, name=name, origin="config", created_by=None, now=timeutil.now())
