"""The topics other parts add to the event bus reach subscribers: an alert that fires
(``alerts``) and a schedule that fires (``schedules``), on a real daemon."""

from __future__ import annotations

import threading
from typing import Any

from tests.observe.test_metrics_daemon import start

RULES = """
[alerts]
interval_s = 0.1

[[alerts.rules]]
name = "fail-streak"
kind = "consecutive_failures"
task = "fail"
count = 1
"""


class Listener(threading.Thread):
    """Subscribes to ``topic`` and keeps its events until ``want`` came."""

    def __init__(self, d: Any, topic: str, want: int) -> None:
        super().__init__(daemon=True)
        self.d, self.topic, self.want = d, topic, want
        self.live = threading.Event()
        self.got: list[Any] = []

    def run(self) -> None:
        with self.d.client() as c:
            for event in c.subscribe([self.topic], timeout_s=40):
                if event.topic == "live":
                    self.live.set()
                elif event.topic == self.topic:
                    self.got.append(event)
                    if len(self.got) >= self.want:
                        return


def test_alert_and_schedule_events_reach_subscribers(make_daemon: Any) -> None:
    d = start(make_daemon, RULES)
    alerts, schedules = Listener(d, "alerts", 1), Listener(d, "schedules", 1)
    for listener in (alerts, schedules):
        listener.start()
        assert listener.live.wait(20)
    with d.client() as c:
        c.submit("fail", wait=True)
        c.create_schedule("tick", "noop", every="1s")
    alerts.join(40)
    schedules.join(40)
    assert alerts.got and alerts.got[0].data["rule"] == "fail-streak", alerts.got
    assert alerts.got[0].data["state"] in ("pending", "firing")
    assert schedules.got and schedules.got[0].data["schedule"] == "tick", schedules.got
    assert schedules.got[0].data["kind"] == "fired"
