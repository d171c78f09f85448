"""A schedule as the scheduler holds it (``Entry``), and the small rules about fires
that the timer loop and the operations on schedules share: a fire's idempotency key,
stored times as whole seconds, and when the next fire is due.

Its own module so that ``scheduler`` (the timer loop) stays about firing, and
``operations`` can read entries without reaching into it.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass, field

from seqd.model import timeutil
from seqd.model.runs import Run
from seqd.model.schedules import SCHEDULE_KEY_PREFIX, Schedule
from seqd.scheduler import times
from seqd.scheduler.spec import Plan

logger = logging.getLogger("seqd.scheduler")


def fire_key(name: str, nominal: str) -> str:
    """The idempotency key of the fire of schedule ``name`` for ``nominal``."""
    return f"{SCHEDULE_KEY_PREFIX}{name}@{nominal}"


def seconds_of(text: str) -> int:
    """A stored time (RFC 3339 UTC) as whole epoch seconds, rounded down."""
    return math.floor(timeutil.parse_ts(text))


def text_of(seconds: float) -> str:
    return timeutil.format_ts(seconds)


def next_fire(record: Schedule, plan: Plan) -> tuple[int, float] | None:
    """The nominal time of the first fire after ``record``'s cursor, and when it is due
    (with its jitter); None when it fires no more."""
    nominal = plan.timing.after(seconds_of(record.cursor))
    if nominal is None:
        return None
    return nominal, nominal + times.jitter(record.name, nominal, plan.jitter_s)


@dataclass(eq=False)
class Entry:
    """A schedule as the scheduler holds it: its stored record and compiled plan."""

    record: Schedule
    plan: Plan | None
    problem: str | None = None
    """Why it has no plan (its definition no longer compiles, say its zone is gone)."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    drain: asyncio.Task[None] | None = None
    retry_s: float = 0.0


def had_run(name: str, nominal: str, run: Run | None) -> None:
    """A fire found its run made already: the daemon stopped after making it and
    before moving the cursor past it. The key kept it from being made twice."""
    which = f"run {run.id}" if run is not None else "a run"
    logger.info("schedule %s: the fire for %s had its run already (%s)", name, nominal, which)
