"""★ The wire types of the ``schedules.*`` methods (their ``MethodSpec``s are in
``protocol.METHODS``, the one registry, which imports this module).

A schedule is sent as its whole definition (``ScheduleParams``: ``schedules.create``
and ``schedules.update`` alike) and reported as the stored record with what the
scheduler knows of it (``ScheduleInfo``: its zone, its next fire times, its newest
run). Strict like every Params: a misspelt field is an error naming it.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from seqd.model.runs import Run
from seqd.model.schedules import Schedule, ScheduleSpec

ScheduleName = Annotated[
    str,
    Meta(
        pattern=r"^[a-z0-9][a-z0-9_.-]{0,127}(/[a-z0-9][a-z0-9_.-]{0,127})?$",
        description="a schedule name (<task>/<name> for those defined in task configs)",
    ),
]


class ScheduleParams(ScheduleSpec, forbid_unknown_fields=True, kw_only=True):
    """A whole definition: ``schedules.update`` replaces the one stored (the cursor,
    the queue and the history stay)."""

    name: ScheduleName


class ScheduleNameParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: ScheduleName


class ScheduleListParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    task: str | None = None
    """Only the schedules of this task."""
    after: ScheduleName | None = None
    """Only names after this one (pass the last name of a page: its ``next_cursor``)."""
    limit: Annotated[int, Meta(ge=1, le=1000)] = 100


ScheduleState = Literal["active", "paused", "done", "broken"]


class ScheduleInfo(Schedule, kw_only=True):
    zone: str
    """The zone it is read in: its ``tz``, else the daemon's."""
    state: ScheduleState
    """``done``: it will not fire again (``at`` passed, ``end`` reached); ``broken``:
    its definition no longer holds (``problem`` says why), it does not fire."""
    problem: str | None = None
    next_fires: list[str] = []
    """Its next three nominal fire times (RFC 3339 UTC), paused or not."""
    last_run: Run | None = None
    """Its newest run (a fire or a trigger): the start of its history, ``runs.list
    {schedule}``."""


class ScheduleListResult(msgspec.Struct, kw_only=True):
    schedules: list[ScheduleInfo]
    next_cursor: str | None = None


class ScheduleDeleted(msgspec.Struct, kw_only=True):
    name: str
    deleted: bool
