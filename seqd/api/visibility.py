"""What a caller may see of an event: the one function every event passes before it
is written to a subscriber, replayed from storage or live.

A run event shows the run as ``runs.get`` would (``seqd.access``: another user's run
without its data, unless the caller is an admin or the config shares run data). Log
and step events are checked once, when the subscription names its run or tree
(``events.subscribe``), since every run of a tree is its root's submitter's. An event
left as it is keeps its encoding shared by all the subscribers it goes to.
"""

from __future__ import annotations

import msgspec

from seqd.access.policy import Policy
from seqd.model.events import Event, RunEvent, TopicEvent
from seqd.rpc.dispatch import Caller


def visible(access: Policy, caller: Caller, event: Event | TopicEvent) -> Event | TopicEvent | None:
    """``event`` as ``caller`` may see it, or None if they may not see it at all."""
    if isinstance(event, RunEvent):
        shown = access.run_view(caller, event.run)
        if shown is not event.run:
            return msgspec.structs.replace(event, run=shown)
    return event
