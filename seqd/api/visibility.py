"""What a caller may see of an event: the one function every event passes before it
is written to a subscriber, replayed from storage or live.

Today every caller sees everything, as ``runs.get``, ``runs.logs`` and ``runs.steps``
show every run to every caller. This is where roles tighten it — say a run's input,
output and log lines only to its submitter and the admins: return a reduced copy of
the event (``msgspec.structs.replace``) or None to send nothing. An event left as it
is keeps its encoding shared by all the subscribers it goes to.
"""

from __future__ import annotations

from seqd.model.events import Event, TopicEvent
from seqd.rpc.dispatch import Caller


def visible(caller: Caller, event: Event | TopicEvent) -> Event | TopicEvent | None:
    """``event`` as ``caller`` may see it, or None if they may not see it at all."""
    return event
