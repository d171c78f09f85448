"""What every store does alike with alert history: the statements of the SQL stores'
``alert_events`` table, how an event is encoded and read back, and the selection
(by rule, before a seq, newest first) the file store applies in memory.

Its own module because the history is one concern of its own (``append_alert_event``,
``list_alert_events``), the same in the three stores.
"""

# ruff: noqa: S608 -- statements are built from constants and a placeholder, never values

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from seqd.errors import ValidationFailed
from seqd.model.alerts import AlertEvent, NewAlertEvent

_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(NewAlertEvent)


def check_alert_query(rule: str | None, before: int | None, limit: int) -> None:
    """What ``list_alert_events`` refuses whatever the store."""
    if limit < 0:
        raise ValidationFailed("limit must be at least 0", {"field": "limit"})
    if rule is not None and (not rule or "\x00" in rule):
        raise ValidationFailed("rule must be a non-empty name", {"field": "rule"})
    if before is not None and before < 1:
        raise ValidationFailed("before must be at least 1", {"field": "before"})


def event_data(event: NewAlertEvent) -> str:
    """The ``data`` column of an event: the event without its seq, as JSON."""
    plain = NewAlertEvent(**{f: getattr(event, f) for f in NewAlertEvent.__struct_fields__})
    return _ENCODER.encode(plain).decode()


def event_of(seq: int, data: str | bytes) -> AlertEvent:
    """A stored row back as the event it was appended as, numbered ``seq``."""
    return AlertEvent(seq=int(seq), **msgspec.structs.asdict(_DECODER.decode(data)))


def events_of(rows: Iterable[Any]) -> list[AlertEvent]:
    """Events from ``(seq, data)`` rows."""
    return [event_of(seq, data) for seq, data in rows]


def select_events(
    events: Iterable[AlertEvent], rule: str | None, before: int | None, limit: int
) -> list[AlertEvent]:
    """Newest first: ``rule``'s events only when given, seq below ``before`` when
    given, at most ``limit``."""
    chosen = [
        e for e in events if (rule is None or e.rule == rule) and (before is None or e.seq < before)
    ]
    chosen.sort(key=lambda e: e.seq, reverse=True)
    return chosen[:limit]


class AlertStatements:
    """The SQL stores' statements on ``alert_events (seq, rule, data)``."""

    def __init__(self, placeholder: str) -> None:
        p = self.placeholder = placeholder
        self.insert = f"INSERT INTO alert_events (rule, data) VALUES ({p}, {p})"

    def select(self, rule: str | None, before: int | None, limit: int) -> tuple[str, list[Any]]:
        """The query of ``list_alert_events`` (its arguments checked), rows ``(seq, data)``."""
        check_alert_query(rule, before, limit)
        p = self.placeholder
        where: list[str] = []
        params: list[Any] = []
        if rule is not None:
            where.append(f"rule = {p}")
            params.append(rule)
        if before is not None:
            where.append(f"seq < {p}")
            params.append(before)
        sql = "SELECT seq, data FROM alert_events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY seq DESC LIMIT {p}"
        params.append(limit)
        return sql, params
