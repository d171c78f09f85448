"""Alert history as stored and reported: one event per change of an alert's state.

An alert is one rule of ``[[alerts.rules]]`` watched over time. It is ``inactive``
while its condition is false, ``pending`` once the condition holds but not yet for
the rule's ``for`` duration, then ``firing``; a firing alert whose condition stops
holding is ``resolved`` (and inactive again). A pending alert whose condition stops
before ``for`` has passed goes back to ``inactive``. Each change is an event, stored
before it is notified.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

AlertState = Literal["inactive", "pending", "firing", "resolved"]
LiveState = Literal["inactive", "pending", "firing"]
"""Where an alert stands between changes (``resolved`` is a change, to inactive)."""


class NewAlertEvent(msgspec.Struct, kw_only=True):
    """An event before storage numbered it."""

    ts: str
    rule: str
    state: AlertState
    previous: AlertState
    severity: str = "warning"
    value: float | None = None
    """What the condition measured when the state changed."""
    message: str = ""
    details: dict[str, Any] = {}
    """Rule-specific facts: the runs over a limit, the task, the threshold..."""


class AlertEvent(NewAlertEvent, kw_only=True):
    seq: int
    """Position in the whole alert history, from 1; newer events have larger ones."""


MAX_ALERT_EVENTS_PAGE = 1000
