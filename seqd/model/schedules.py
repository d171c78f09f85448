"""Schedules as they are stored and reported: what defines one (``ScheduleSpec``) and
the record the scheduler keeps (``Schedule``: the definition, where it came from, and
how far its fires have been handled).

★ shapes clients see. Times are RFC 3339 text: what people wrote for ``at``,
``start``, ``end`` and ``anchor``; UTC with microseconds (like every stored
timestamp) for ``cursor`` and ``queued``. The rules on the values (one of
``at``/``every``/``cron``, a known zone, a valid expression...) are the scheduler's
(``seqd.scheduler.spec``); these are the shapes only.
"""

from __future__ import annotations

from typing import Any, Literal

from seqd.errors import ValidationFailed
from seqd.model.runs import Model

Overlap = Literal["skip", "queue", "allow"]
"""What a fire does while the schedule's previous run is unfinished: ``skip`` it,
``queue`` it until that run ends, or ``allow`` both to run at once."""

Misfire = Literal["skip", "run_once", "catch_up"]
"""What happens to fires missed while the daemon was down: ``skip`` them, run
``run_once`` for all of them, or ``catch_up`` each (at most ``catch_up`` of them)."""

Origin = Literal["api", "config"]
"""``api``: made with ``schedules.create``; ``config``: from a task's config.json."""

SCHEDULE_KEY_PREFIX = "schedule:"
"""Idempotency keys of scheduled fires, ``schedule:<name>@<nominal time>``: reserved,
``runs.submit`` and ``task.run`` refuse them (``check_caller_key``), so no caller can
take (or forge) a fire."""


def check_caller_key(key: str | None) -> None:
    """Refuse an idempotency key a caller (not the scheduler) may not use."""
    if key is not None and key.startswith(SCHEDULE_KEY_PREFIX):
        raise ValidationFailed(
            f"idempotency keys starting with {SCHEDULE_KEY_PREFIX!r} are reserved for the "
            "fires of schedules",
            {"field": "idempotency_key"},
        )


class ScheduleSpec(Model, kw_only=True):
    """What defines a schedule: the run it starts and when. Exactly one of ``at``,
    ``every`` and ``cron`` is set."""

    task: str
    input: dict[str, Any] = {}
    at: str | None = None
    """Once, at this RFC 3339 time."""
    every: str | None = None
    """An interval (``"90s"``, ``"6h"``): fires at ``anchor`` + k * interval."""
    anchor: str | None = None
    """For ``every``: an RFC 3339 time the fires line up with (default: creation)."""
    cron: str | None = None
    """Five cron fields, or ``@hourly``, ``@daily``, ``@weekly``, ``@monthly``,
    ``@yearly``; read in ``tz``."""
    tz: str | None = None
    """IANA zone of ``cron`` (default: the daemon's, ``scheduler.timezone``)."""
    start: str | None = None
    """No fire before this RFC 3339 time."""
    end: str | None = None
    """No fire after this RFC 3339 time."""
    jitter_s: float = 0.0
    """Each fire is delayed by up to this many seconds (the same delay after a restart)."""
    overlap: Overlap = "skip"
    misfire: Misfire = "run_once"
    catch_up: int = 10
    """With ``misfire: catch_up``, how many of the latest missed fires run."""
    paused: bool = False


class Schedule(ScheduleSpec, kw_only=True):
    """The stored record: the definition, its origin, and its cursor."""

    name: str
    origin: Origin = "api"
    created_at: str
    updated_at: str
    created_by: int | None = None
    """The uid that created it (its fires run as that user's runs); None: a config."""
    cursor: str
    """Every nominal fire time up to this one has been handled (fired, skipped or
    missed); the next fire is the first after it."""
    queued: list[str] = []
    """``overlap: queue``: nominal times waiting for the previous run to end, oldest first."""


SPEC_FIELDS: tuple[str, ...] = ScheduleSpec.__struct_fields__
"""The fields of a definition (what a config reload or ``schedules.update`` replaces)."""

TIMING_FIELDS: tuple[str, ...] = ("at", "every", "anchor", "cron", "tz", "start", "end")
"""The fields that say when it fires: changing one restarts the cursor from now."""


def definition(spec: ScheduleSpec) -> ScheduleSpec:
    """The definition part of ``spec`` (of a ``Schedule`` too), as a plain spec."""
    return ScheduleSpec(**{f: getattr(spec, f) for f in SPEC_FIELDS})


def new_schedule(
    spec: ScheduleSpec, *, name: str, origin: Origin, created_by: int | None, now: str
) -> Schedule:
    """The record of a schedule defined ``now``: its first fire is the first after now."""
    return Schedule(
        **{f: getattr(spec, f) for f in SPEC_FIELDS},
        name=name,
        origin=origin,
        created_at=now,
        updated_at=now,
        created_by=created_by,
        cursor=now,
    )
