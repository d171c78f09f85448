"""Wire types of ``events.*``: subscribing to topics, with cursors, and ending it; the
events themselves are ``seqd.model.events``.

Its own module, as each area's wire types are; ``protocol.METHODS`` lists the methods.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from seqd.model.runs import RunStatus
from seqd.rpc.params import (
    Params,
    RunRef,
    TaskName,
)

TopicName = Annotated[
    str, Meta(pattern=r"^[a-z][a-z0-9_.-]{0,63}$", description="an event topic (run, log, step...)")
]


Cursor = Annotated[str, Meta(min_length=1, max_length=65536, description="an event cursor")]


class SubscribeParams(Params, kw_only=True):
    """Events of ``topics`` for the runs the filters select (all of them apply)."""

    topics: Annotated[list[TopicName], Meta(min_length=1, max_length=16)]
    run_id: RunRef | None = None
    """One run (``log`` and ``step`` need this or ``root_id``)."""
    root_id: RunRef | None = None
    """A run and every run under it (a flow's tree)."""
    task: TaskName | None = None
    status: Annotated[list[RunStatus], Meta(min_length=1)] | None = None
    """``run`` events of runs that have moved to one of these."""
    since: Cursor | None = None
    """Resume after this cursor (``"0"``: from the beginning) before going live."""
    tail: Annotated[int, Meta(ge=0, le=100_000)] | None = None
    """Without ``since``: start with each run's last ``tail`` log lines."""
    from_time: (
        Annotated[str, Meta(pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")] | None
    ) = None
    """Without ``since``: start with the log lines written at or after this UTC time."""


class SubscribeResult(msgspec.Struct, kw_only=True):
    id: str
    """The subscription, named in each of its events."""
    cursor: str
    """Where it starts (``since`` of a later subscription resumes from here)."""


class UnsubscribeParams(Params, kw_only=True):
    id: Annotated[str, Meta(min_length=1, max_length=64)]


class UnsubscribeResult(msgspec.Struct, kw_only=True):
    cursor: str
    """Where it stopped: the cursor of its last event sent."""
