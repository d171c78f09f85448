"""Topics other parts of the daemon add (alerts, schedules), on the bus itself: no part
publishes one yet, so the bus and a subscription are driven directly, writing into a
sink that keeps the lines as a connection would."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from seqd.api.events import scope_of
from seqd.errors import InvalidParams
from seqd.events import cursor, replay
from seqd.events.bus import EventBus
from seqd.events.cursor import CursorState
from seqd.events.subscription import Limits, Subscription
from seqd.rpc.events import SubscribeParams


class Sink:
    """A connection that takes every line at once."""

    paused = False
    closed = False

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def send(self, line: bytes) -> None:
        self.lines.append(json.loads(line)["params"])

    async def writable(self) -> None:
        return None

    def on_resume(self, callback: Callable[[], None]) -> Callable[[], None]:
        return lambda: None

    def on_close(self, callback: Callable[[], None]) -> Callable[[], None]:
        return lambda: None

    def hold(self) -> Callable[[], None]:
        return lambda: None


def subscribe(bus: EventBus, since: str | None) -> tuple[Subscription, Sink]:
    sink = Sink()
    scope = scope_of(SubscribeParams(topics=["alert"]), bus)
    sub = Subscription("1", scope, CursorState(), sink, lambda event: event, Limits())
    bus.add(sub)
    state = cursor.decode(since) if since is not None else None

    async def start() -> None:
        sub.start_at(state or await replay.starting_point(None, bus, scope))  # type: ignore[arg-type]
        await replay.replay(sub, None, bus)  # type: ignore[arg-type]

    asyncio.run(start())
    return sub, sink


def test_a_topic_s_events_go_live_and_resume_from_memory() -> None:
    bus = EventBus(topic_backlog=3)
    bus.topic("alert", "alerts that fired")
    sub, sink = subscribe(bus, None)
    bus.publish("alert", {"name": "disk"})
    assert [(e["topic"], e.get("data")) for e in sink.lines] == [
        ("live", None),
        ("alert", {"name": "disk"}),
    ]
    resume_at = sink.lines[-1]["cursor"]
    sub.end()
    for name in ("cpu", "mem"):
        bus.publish("alert", {"name": name})
    _, sink = subscribe(bus, resume_at)
    assert [e.get("data", {}).get("name") for e in sink.lines] == ["cpu", "mem", None]
    assert sink.lines[-1] == {**sink.lines[-1], "topic": "live", "missed": []}


def test_events_gone_from_memory_are_reported_missed() -> None:
    bus = EventBus(topic_backlog=2)
    bus.topic("alert", "alerts that fired")
    _, sink = subscribe(bus, None)
    old = sink.lines[-1]["cursor"]
    for name in ("a", "b", "c", "d"):
        bus.publish("alert", {"name": name})
    _, sink = subscribe(bus, old)
    assert [e["data"]["name"] for e in sink.lines if e["topic"] == "alert"] == ["c", "d"]
    assert sink.lines[-1] == {**sink.lines[-1], "topic": "live", "missed": ["alert"]}
    # A cursor of another daemon (another epoch): what memory holds, and "missed".
    other = cursor.encode(CursorState(topics={"alert": 1}, epoch="elsewhere"))
    _, sink = subscribe(bus, other)
    assert [e["data"]["name"] for e in sink.lines if e["topic"] == "alert"] == ["c", "d"]
    assert sink.lines[-1]["missed"] == ["alert"]


def test_topics_are_named_once_and_unknown_ones_refused() -> None:
    bus = EventBus()
    bus.topic("alert", "alerts that fired")
    with pytest.raises(ValueError, match="exists already"):
        bus.topic("alert", "again")
    with pytest.raises(ValueError, match="exists already"):
        bus.topic("run", "a built-in one")
    with pytest.raises(InvalidParams) as refused:
        scope_of(SubscribeParams(topics=["schedule"]), bus)
    assert refused.value.details["known"] == ["run", "log", "step", "alert"]
