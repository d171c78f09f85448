"""A schedule's definition checked and compiled: the rules on its values, and the
``Plan`` (its ``Timing``, its zone, its jitter) the scheduler computes fires from.

Its own module because the same rules apply wherever a definition comes from —
``schedules.create``/``update`` and a task's config.json — and each broken rule is a
``ValidationFailed`` naming the field (``cron``, or ``schedules[1].cron`` for a config
entry). ``compile_plan`` may load a zone's file the first time it sees the zone, so
callers on the event loop run it in a thread.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from cronsim import CronSim, CronSimError

from seqd.errors import ValidationFailed
from seqd.model.durations import parse_duration
from seqd.model.rfc3339 import parse_rfc3339
from seqd.model.schedules import ScheduleSpec
from seqd.model.tasks import TASK_NAME_PATTERN
from seqd.scheduler import zones
from seqd.scheduler.times import Bounded, Cron, Interval, Once, Timing

NAME_PATTERN = TASK_NAME_PATTERN
"""Names given through the API; a config's schedules are named ``<task>/<name>``."""
_NAME = re.compile(NAME_PATTERN)

CRON_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MAX_JITTER_S = 86_400.0
MAX_CATCH_UP = 1000
MAX_EVERY_S = 10 * 366 * 86_400
MAX_CRON_TEXT = 200
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Plan:
    """What the scheduler computes a schedule's fires from."""

    timing: Timing
    zone: str
    """The zone the schedule is read in (its ``tz``, else the daemon's)."""
    jitter_s: float


def fail(where: str, field: str, message: str) -> ValidationFailed:
    name = f"{where}{field}"
    return ValidationFailed(f"{name}: {message}", {"field": name})


def check_name(name: str, field: str = "name") -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValidationFailed(
            f"{field}: {name!r} is not a valid schedule name ({NAME_PATTERN}; names with a "
            "'/' are those of schedules defined in task configs)",
            {"field": field},
        )
    return name


def cron_expression(text: str, where: str = "") -> str:
    """The five-field expression ``text`` stands for (an alias such as ``@daily`` is
    replaced), once ``cronsim`` has read it."""
    if not isinstance(text, str) or len(text) > MAX_CRON_TEXT:
        raise fail(where, "cron", "must be a cron expression of at most 200 characters")
    expression = CRON_ALIASES.get(text.strip().lower(), text.strip())
    if expression.startswith("@"):
        aliases = ", ".join(CRON_ALIASES)
        raise fail(where, "cron", f"{text!r} is not one of the aliases {aliases}")
    if len(expression.split()) != 5:
        raise fail(
            where,
            "cron",
            f"{text!r} must have five fields: minute hour day-of-month month day-of-week",
        )
    try:
        CronSim(expression, _EPOCH)
    except (CronSimError, ValueError) as exc:
        raise fail(where, "cron", f"{text!r} is not a valid cron expression: {exc}") from None
    return expression


def _time(where: str, field: str, text: str) -> int:
    try:
        return math.floor(parse_rfc3339(text))
    except ValueError as exc:
        raise fail(where, field, str(exc)) from None


def compile_plan(
    spec: ScheduleSpec, *, created: int, default_zone: str, name: str = "", where: str = ""
) -> Plan:
    """Check ``spec`` and compile its ``Plan``. ``created`` (epoch seconds) anchors an
    ``every`` without ``anchor``; ``default_zone`` applies without ``tz``; ``where``
    prefixes every field named in an error."""
    if not isinstance(spec.task, str) or not _NAME.match(spec.task):
        raise fail(where, "task", f"{spec.task!r} is not a task name ({TASK_NAME_PATTERN})")
    kinds = [k for k in ("at", "every", "cron") if getattr(spec, k) is not None]
    if len(kinds) != 1:
        given = f" (got {', '.join(kinds)})" if kinds else ""
        raise fail(where, "at", f"give exactly one of at, every and cron{given}")
    if spec.anchor is not None and spec.every is None:
        raise fail(where, "anchor", "applies to every only")
    if not (math.isfinite(spec.jitter_s) and 0 <= spec.jitter_s <= MAX_JITTER_S):
        raise fail(where, "jitter_s", f"must be between 0 and {MAX_JITTER_S:g} seconds")
    if not 1 <= spec.catch_up <= MAX_CATCH_UP:
        raise fail(where, "catch_up", f"must be between 1 and {MAX_CATCH_UP}")
    zone = spec.tz if spec.tz is not None else default_zone
    try:
        tz = zones.load(zone)
    except zones.UnknownZone as exc:
        raise fail(where, "tz", str(exc)) from None
    timing: Timing
    if spec.at is not None:
        timing = Once(_time(where, "at", spec.at))
    elif spec.every is not None:
        seconds = parse_duration(spec.every, f"{where}every")
        if seconds != int(seconds) or not 1 <= seconds <= MAX_EVERY_S:
            raise fail(where, "every", "must be a whole number of seconds, from 1s to 10 years")
        anchor = created if spec.anchor is None else _time(where, "anchor", spec.anchor)
        timing = Interval(anchor, int(seconds))
    else:
        assert spec.cron is not None
        timing = Cron(cron_expression(spec.cron, where), tz)
    start = None if spec.start is None else _time(where, "start", spec.start)
    end = None if spec.end is None else _time(where, "end", spec.end)
    if start is not None and end is not None and end < start:
        raise fail(where, "end", "is before start")
    if start is not None or end is not None:
        timing = Bounded(timing, start, end)
    return Plan(timing=timing, zone=zone, jitter_s=spec.jitter_s)
