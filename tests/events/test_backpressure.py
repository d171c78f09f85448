"""A client too slow for its events is cut, told where, and loses nothing by resuming;
the daemon goes on serving everyone else meanwhile."""

from __future__ import annotations

import time

from tests.events.support import TASKS, Raw, runs_of, topic

LINES = 20_000


def slow_daemon(make_daemon, tmp_path):  # type: ignore[no-untyped-def]
    config = tmp_path / "seqd.toml"
    config.write_text("[events]\nqueue_events = 10\nqueue_bytes = 65536\n")
    return make_daemon(tasks=[TASKS], env={"SEQD_CONFIG": str(config)})


def test_a_reader_too_slow_for_a_log_is_cut_and_resumes_exactly(make_daemon, tmp_path) -> None:
    d = slow_daemon(make_daemon, tmp_path)
    with d.client() as c:
        run = c.submit("lines-shell", {"n": LINES, "delay": 1.0})
        slow = Raw(d.socket)
        slow.sock.setsockopt(1, 8, 4096)  # SO_RCVBUF: a small window fills sooner
        slow.call("events.subscribe", {"topics": ["log"], "run_id": run.id})
        # It reads nothing while the run prints; the daemon keeps answering others.
        done = c.wait(run.id, timeout_s=60)
        assert done.status == "succeeded"
        assert c.ping() == "pong"
    events = slow.events(topic("cut"))
    cut = events[-1]
    assert cut["reason"] == "slow"
    got = [line["seq"] for e in events if e["topic"] == "log" for line in e["lines"]]
    assert got == list(range(1, len(got) + 1)) and len(got) < LINES
    # The cut's cursor is that of the last event received: from it, the rest, once.
    assert cut["cursor"] == [e for e in events if e["topic"] != "cut"][-1]["cursor"]
    again = Raw(d.socket)
    again.call("events.subscribe", {"topics": ["log"], "run_id": run.id, "since": cut["cursor"]})
    rest = again.events(topic("live"), timeout=60)
    got += [line["seq"] for e in rest if e["topic"] == "log" for line in e["lines"]]
    assert got == list(range(1, LINES + 1))


def test_a_run_watcher_that_stops_reading_is_cut_and_resumes_exactly(make_daemon, tmp_path) -> None:
    d = slow_daemon(make_daemon, tmp_path)
    slow = Raw(d.socket)
    slow.sock.setsockopt(1, 8, 4096)
    slow.call("events.subscribe", {"topics": ["run"], "task": "quick"})
    runs: list[str] = []
    with d.client() as c:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            runs.extend(c.submit("quick", {"n": i}, wait=True).id for i in range(50))
            status = c.status()
            if status.runs.get("succeeded", 0) >= len(runs) and _cut_sent(d):
                break
    events = slow.events(topic("cut"))
    assert events[-1]["reason"] == "slow"
    again = Raw(d.socket)
    again.call(
        "events.subscribe", {"topics": ["run"], "task": "quick", "since": events[-1]["cursor"]}
    )
    events += again.events(topic("live"), timeout=60)
    ends = [r for r, s in runs_of(events) if s == "succeeded"]
    assert sorted(ends) == sorted(runs)  # every run's end exactly once


def _cut_sent(d) -> bool:  # type: ignore[no-untyped-def]
    """Whether the daemon has cut a subscription (it says so in its log)."""
    return "cut (slow)" in d.log_text()
