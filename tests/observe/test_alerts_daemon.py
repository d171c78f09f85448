"""Alerts on a real daemon: a rule fires, runs the task it names with the alert as its
input, is stored and shown by ``alerts.*`` and seqctl, and resolves; a plugin's
``seqd_alert`` hook hears it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from seqd import hookimpl
from seqd.model.alerts import AlertEvent
from seqd.plugins.host import PluginHost
from tests.observe.test_metrics_daemon import start

RULES = """
[alerts]
interval_s = 0.1

[[alerts.rules]]
name = "fail-streak"
kind = "consecutive_failures"
task = "fail"
count = 2
severity = "critical"
notify_task = "alert-sink"

[[alerts.rules]]
name = "slow-sleeper"
kind = "run_duration"
task = "sleep-shell"
above = "0.3s"
for = "0.2s"
"""


def until(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_rules_fire_notify_and_resolve(make_daemon: Any) -> None:
    d = start(make_daemon, RULES)
    with d.client() as c:
        assert {a.name: a.state for a in c.alerts()} == {
            "fail-streak": "inactive",
            "slow-sleeper": "inactive",
        }
        c.submit("fail", wait=True)
        c.submit("fail", wait=True)
        firing = until(lambda: [a for a in c.alerts() if a.state == "firing"])
        assert [a.name for a in firing] == ["fail-streak"]
        assert firing[0].severity == "critical" and firing[0].value == 2.0
        sink = until(lambda: [r for r in c.iter_runs(task="alert-sink") if r.status == "succeeded"])
        assert sink[0].input["alert"]["rule"] == "fail-streak"
        assert sink[0].input["alert"]["state"] == "firing"
        assert sink[0].output == {"rule": "fail-streak", "state": "firing"}

        slow = c.submit("sleep-shell", {"seconds": 30})
        until(lambda: {a.name: a.state for a in c.alerts()}["slow-sleeper"] == "firing")
        states = [e.state for e in c.alert_history(rule="slow-sleeper").events]
        assert states == ["firing", "pending"]
        c.cancel(slow.id)
        until(lambda: {a.name: a.state for a in c.alerts()}["slow-sleeper"] == "inactive")

        c.submit("noop", wait=True)  # another task's success does not break the streak
        c.submit("fail", {"message": "x"}, wait=True)
        assert {a.name: a.state for a in c.alerts()}["fail-streak"] == "firing"

        page = c.alert_history(limit=2)
        assert len(page.events) == 2 and page.next_before == page.events[-1].seq
        rest = c.alert_history(before=page.next_before, limit=100)
        seqs = [e.seq for e in page.events + rest.events]
        assert seqs == sorted(seqs, reverse=True) and len(seqs) == 4
    log = d.log_text()
    assert "alert fail-streak FIRING (critical)" in log
    assert "alert slow-sleeper RESOLVED" in log

    shown = d.seqctl("alerts")
    assert shown.returncode == 0, shown.stderr
    assert "fail-streak" in shown.stdout and "FIRING" in shown.stdout
    assert "recent changes:" in shown.stdout and "firing -> resolved" in shown.stdout
    history = d.seqctl("alerts", "history", "--rule", "slow-sleeper")
    assert history.returncode == 0, history.stderr
    assert "pending -> firing" in history.stdout and "fail-streak" not in history.stdout

    d.restart()  # still firing after a restart: not notified again
    with d.client() as c:
        assert {a.name: a.state for a in c.alerts()}["fail-streak"] == "firing"
        c.submit("fail", {"message": "y"}, wait=True)
        assert len([r for r in c.iter_runs(task="alert-sink")]) == 1


def test_the_alert_hook_reaches_every_plugin_alone() -> None:
    heard: list[str] = []

    class Sync:
        @hookimpl
        def seqd_alert(self, alert: AlertEvent) -> None:
            heard.append(f"sync {alert.rule} {alert.state}")

    class Broken:
        @hookimpl
        def seqd_alert(self, alert: AlertEvent) -> None:
            raise RuntimeError("plugin bug")

    class Slow:
        @hookimpl
        async def seqd_alert(self, alert: AlertEvent) -> None:
            await asyncio.sleep(10)
            heard.append("slow never")

    class Async:
        @hookimpl
        async def seqd_alert(self, alert: AlertEvent) -> None:
            await asyncio.sleep(0)
            heard.append(f"async {alert.seq}")

    host = PluginHost()
    for name, plugin in (("a", Sync()), ("b", Broken()), ("c", Slow()), ("d", Async())):
        host.register(name, plugin)
    event = AlertEvent(ts="t", rule="r", state="firing", previous="pending", seq=7)
    asyncio.run(host.alert(event, timeout_s=0.2))
    assert sorted(heard) == ["async 7", "sync r firing"]


def test_docs_rule_example_is_valid(tmp_path: Path) -> None:
    import re

    from seqd.config.settings import load_config

    text = (Path(__file__).resolve().parents[2] / "docs" / "observability.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", text, re.S)
    assert blocks, "docs/observability.md has no ```toml example"
    for i, block in enumerate(blocks):
        path = tmp_path / f"{i}.toml"
        path.write_text(block)
        load_config({}, env={}, config_file=str(path))
