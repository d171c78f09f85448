"""★ What a subscription receives (``events.subscribe``): one Struct per topic, tagged
by ``topic``, each with the subscription it belongs to and its cursor.

The same Structs travel over the wire (as the params of ``event`` notifications) and are
what the typed clients decode them into. ``cursor`` is opaque: pass the last one you
handled as ``since`` to resume exactly after it, from storage, even across a restart of
the daemon.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import msgspec

from seqd.model.runs import LogLine, Run, Step


class Event(msgspec.Struct, kw_only=True, omit_defaults=True, tag_field="topic"):
    """Base of every event; ``topic`` names its kind. Every member but ``subscription``
    and ``cursor`` (which the daemon sends first) is always sent."""

    subscription: str = ""
    """The id ``events.subscribe`` answered."""
    cursor: str = ""
    """Where the subscription stands once this event is handled (``since`` resumes)."""

    @property
    def topic(self) -> str:
        """Its kind (``run``, ``log``...): the tag it is sent with."""
        return str(self.__struct_config__.tag)


class RunEvent(Event, tag="run", kw_only=True):
    """A run was written: created, or moved to another status (every transition while
    live; replayed, each run that changed since the cursor once, as it is now)."""

    run: Run


class LogEvent(Event, tag="log", kw_only=True):
    """Log lines of one run as they were stored, in ``seq`` order."""

    run_id: str
    task: str | None
    """The run's task (to tell the runs of a tree apart), when known."""
    root_id: str | None
    lines: list[LogLine]


class StepEvent(Event, tag="step", kw_only=True):
    """Journal entries of one run (a flow's transitions and state outcomes), in order."""

    run_id: str
    task: str | None
    root_id: str | None
    steps: list[Step]


class LiveEvent(Event, tag="live", kw_only=True):
    """Sent once, when what ``since`` (or ``tail``/``from_time``) asked for has been
    replayed: every event after it is live."""

    missed: list[str]
    """Topics without storage (see ``TopicEvent``) whose events since the cursor were no
    longer all held in memory: some may be missing."""


class CutEvent(Event, tag="cut", kw_only=True):
    """The last event of a subscription the daemon ended: its ``cursor`` is where to
    resume (``since``) to miss nothing."""

    reason: str
    """``slow`` (the client read too slowly: its queue filled), ``shutdown`` (the daemon
    stops) or ``error`` (storage failed during the replay)."""


class TopicEvent(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An event of a topic another part of the daemon publishes (alerts, schedules):
    its ``data`` is that topic's own. Kept in memory only: a cursor replays the latest
    of them, not all (``LiveEvent.missed`` says when some are gone)."""

    topic: str
    subscription: str = ""
    cursor: str = ""
    data: Any = None


AnyEvent: TypeAlias = RunEvent | LogEvent | StepEvent | LiveEvent | CutEvent
"""The events of the topics seqd itself has, as one tagged union (decode by ``topic``)."""

BUILTIN_TOPICS = ("run", "log", "step")
"""Topics every daemon has, kept in storage (``since`` replays them exactly)."""
