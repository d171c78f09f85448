"""What the scheduler did, said in one place: each fire, each skip, each misfire.

Its own module because these are one stream for whoever listens — the log (a fire at
INFO; a skip, a misfire or a fire that could not start a run at WARNING) and the one
callback the daemon wires (``on_event``: the event bus and metrics hang there) — and
the scheduler reports every one of them through ``Reporter.report``, nowhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

import msgspec

from seqd.model import timeutil

logger = logging.getLogger("seqd.scheduler")

EventKind = Literal["fired", "triggered", "skipped", "queued", "misfired", "failed"]


class ScheduleEvent(msgspec.Struct, kw_only=True):
    """One thing that happened to a schedule's fire.

    ``fired``: a run was started for ``nominal`` (``run_id``); ``triggered``: one was
    started by ``schedules.trigger`` (``nominal`` is when); ``skipped``: the fire
    was dropped (``reason``: the previous run is unfinished, or the queue is full);
    ``queued``: it waits for the previous run (``overlap: queue``); ``misfired``:
    ``missed`` fires (or more) fell while the daemon was down, the last at ``nominal``; the
    misfire policy ran ``ran`` of them; ``failed``: no run could be started for
    ``nominal`` (``reason``: the task is gone, its input is refused...).
    """

    ts: str
    kind: EventKind
    schedule: str
    nominal: str | None = None
    run_id: str | None = None
    reason: str = ""
    missed: int = 0
    more: bool = False
    """``missed`` is a lower bound: fires were counted only as far back as the policy
    may reach (one for ``skip`` and ``run_once``, ``catch_up`` for ``catch_up``)."""
    ran: int = 0


Listener = Callable[[ScheduleEvent], None]


class Reporter:
    def __init__(self, on_event: Listener | None = None) -> None:
        self.on_event = on_event

    def report(
        self,
        kind: EventKind,
        schedule: str,
        *,
        nominal: str | None = None,
        run_id: str | None = None,
        reason: str = "",
        missed: int = 0,
        more: bool = False,
        ran: int = 0,
    ) -> ScheduleEvent:
        event = ScheduleEvent(
            ts=timeutil.now(),
            kind=kind,
            schedule=schedule,
            nominal=nominal,
            run_id=run_id,
            reason=reason,
            missed=missed,
            more=more,
            ran=ran,
        )
        _log(event)
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:
                logger.exception("the schedule event listener failed on %s", event)
        return event


def _log(e: ScheduleEvent) -> None:
    if e.kind == "fired":
        logger.info("schedule %s fired for %s: run %s", e.schedule, e.nominal, e.run_id)
    elif e.kind == "triggered":
        logger.info("schedule %s triggered: run %s", e.schedule, e.run_id)
    elif e.kind == "queued":
        logger.info("schedule %s: the fire for %s waits: %s", e.schedule, e.nominal, e.reason)
    elif e.kind == "skipped":
        logger.warning("schedule %s: skipped the fire for %s: %s", e.schedule, e.nominal, e.reason)
    elif e.kind == "misfired":
        logger.warning(
            "schedule %s missed %s fire(s) while the daemon was down (the last for %s); %s",
            e.schedule, f"more than {e.missed - 1}" if e.more else e.missed, e.nominal, e.reason,
        )  # fmt: skip
    else:
        logger.warning(
            "schedule %s: the fire for %s started no run: %s", e.schedule, e.nominal, e.reason
        )
