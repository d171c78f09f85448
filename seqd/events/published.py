"""What the bus hands each subscription: one object per write, shared by all of them.

Its own module because the bus (which makes them) and the subscriptions and the replay
(which read them) all need these, and because a publication carries the event encoded
once for every subscriber that is shown it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from seqd.model.events import Event, LogEvent, RunEvent, StepEvent, TopicEvent
from seqd.model.runs import LogLine, Run, Step

_encoder = msgspec.json.Encoder()


def encode(event: Event | TopicEvent) -> bytes:
    """An event's JSON without its ``subscription`` and ``cursor`` (they go first on the
    wire, see ``seqd.rpc.push.event_line``)."""
    return _encoder.encode(event)


@dataclass(eq=False, slots=True)
class Published:
    """Base: the event as published, encoded at most once."""

    event: Any
    _body: bytes | None = field(default=None, init=False)

    def body(self) -> bytes:
        if self._body is None:
            self._body = encode(self.event)
        return self._body


@dataclass(eq=False, slots=True)
class RunWritten(Published):
    event: RunEvent
    position: int

    @property
    def run(self) -> Run:
        return self.event.run


@dataclass(eq=False, slots=True)
class LinesWritten(Published):
    """Log lines (``LogEvent``) or journal entries (``StepEvent``) of one run."""

    event: LogEvent | StepEvent

    @property
    def entries(self) -> list[LogLine] | list[Step]:
        event = self.event
        return event.lines if isinstance(event, LogEvent) else event.steps

    def after(self, seq: int) -> LogEvent | StepEvent | None:
        """The event with only the entries after ``seq`` (None if none is)."""
        event = self.event
        if isinstance(event, LogEvent):
            lines = [line for line in event.lines if line.seq > seq]
            if len(lines) == len(event.lines):
                return event
            return msgspec.structs.replace(event, lines=lines) if lines else None
        steps = [step for step in event.steps if step.seq > seq]
        if len(steps) == len(event.steps):
            return event
        return msgspec.structs.replace(event, steps=steps) if steps else None


@dataclass(eq=False, slots=True)
class TopicPublished(Published):
    event: TopicEvent
    seq: int
