"""Schedules through a real daemon: defined over the API and in task configs, fired on
time, paused, resumed, triggered, deleted; their runs listed by schedule; every bad
request refused naming its field."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from schedule_helpers import refused, runs_of, seconds, wait_for

if TYPE_CHECKING:
    from conftest import Daemon


def test_every_fires_each_interval_exactly_once(daemon: Daemon) -> None:
    with daemon.client() as c:
        info = c.create_schedule("tick", "pyecho", every="1s", input={"value": 7})
        assert (info.name, info.task, info.origin) == ("tick", "pyecho", "api")
        assert info.state == "active"
        assert info.zone and info.created_by is not None
        nexts = [seconds(t) for t in info.next_fires]
        assert len(nexts) == 3 and nexts[1] - nexts[0] == nexts[2] - nexts[1] == 1
        runs = wait_for(lambda: len(found := runs_of(c, "tick")) >= 3 and found, what="3 fires")
        first = runs[-1]
        assert first.scheduled_for == info.next_fires[0]
        assert first.idempotency_key == f"schedule:tick@{first.scheduled_for}"
        assert first.input == {"value": 7} and first.schedule == "tick"
        fired = sorted(seconds(r.scheduled_for) for r in runs)
        assert fired == [fired[0] + i for i in range(len(fired))]  # each second, once
        # A fire's run starts soon after its time (on an idle daemon).
        assert seconds(first.created_at) - seconds(first.scheduled_for) < 0.5
        done = c.wait(first.id, 10)
        assert done.status == "succeeded" and done.output["input"] == {"value": 7}
        assert c.schedule("tick").last_run is not None
        # Its runs, and only its runs, list under it; other filters combine.
        c.submit("pyecho", {"value": 1}, wait=True)
        assert all(r.schedule == "tick" for r in runs_of(c, "tick"))
        assert c.list_runs(schedule="tick", task="noop").runs == []


def test_pause_resume_trigger_update_delete(daemon: Daemon) -> None:
    with daemon.client() as c:
        c.create_schedule("p", "noop", every="1s")
        wait_for(lambda: runs_of(c, "p"), what="a fire")
        paused = c.pause_schedule("p")
        assert paused.state == "paused" and paused.paused
        count = len(runs_of(c, "p"))
        time.sleep(2.2)  # two fire times pass while paused
        assert len(runs_of(c, "p")) == count
        resumed = c.resume_schedule("p")
        assert resumed.state == "active"
        # Nothing of the paused time is caught up: the next fire is after the resume.
        assert seconds(resumed.next_fires[0]) > time.time() - 1
        wait_for(lambda: len(runs_of(c, "p")) > count, what="a fire after resume")
        triggered = c.trigger_schedule("p")
        assert triggered.schedule == "p" and triggered.idempotency_key is None
        assert abs(seconds(triggered.scheduled_for) - time.time()) < 5
        updated = c.update_schedule("p", "noop", cron="0 0 1 1 *", tz="Europe/Paris")
        assert (updated.cron, updated.every, updated.zone) == ("0 0 1 1 *", None, "Europe/Paris")
        assert datetime.fromisoformat(updated.next_fires[0]).month in (12, 1)  # New Year, Paris
        before = len(runs_of(c, "p"))
        assert c.delete_schedule("p").deleted is True
        refused(lambda: c.schedule("p"), "not_found")
        refused(lambda: c.delete_schedule("p"), "not_found")
        assert len(runs_of(c, "p")) == before  # the history stays


def test_at_fires_once_then_the_schedule_is_done(daemon: Daemon) -> None:
    at = datetime.fromtimestamp(int(time.time()) + 2, UTC).isoformat()
    with daemon.client() as c:
        assert c.create_schedule("once", "noop", at=at).next_fires != []
        run = wait_for(lambda: runs_of(c, "once"), what="the fire")[0]
        assert seconds(run.scheduled_for) == datetime.fromisoformat(at).timestamp()
        info = wait_for(lambda: (i := c.schedule("once")).state == "done" and i, what="done")
        assert info.next_fires == [] and info.last_run.id == run.id
        assert len(runs_of(c, "once")) == 1


def test_bad_requests_are_refused_naming_the_field(daemon: Daemon) -> None:
    with daemon.client() as c:
        refused(lambda: c.create_schedule("x", "noop", cron="61 * * * *"), "validation", "cron")
        refused(lambda: c.create_schedule("x", "noop", every="90"), "validation", "every")
        refused(lambda: c.create_schedule("x", "noop", tz="Nowhere/Land", cron="@daily"),
                "validation", "tz")  # fmt: skip
        refused(lambda: c.create_schedule("x", "noop"), "validation", "at")
        refused(lambda: c.create_schedule("x", "noop", every="1m", catch_up=0),
                "validation", "catch_up")  # fmt: skip
        refused(lambda: c.create_schedule("x", "noop", every="1m", overlap="sometimes"),
                "validation", "overlap")  # fmt: skip
        refused(lambda: c.create_schedule("x", "noop", every="1m", evry="2m"), "validation")
        refused(lambda: c.create_schedule("a/b", "noop", every="1m"), "validation", "name")
        refused(lambda: c.create_schedule("x", "no-such-task", every="1m"), "not_found")
        error = refused(lambda: c.create_schedule("x", "hello", every="1m", input={"name": 5}),
                        "validation")  # fmt: skip
        assert error.details["field"] == "input.name"
        c.create_schedule("x", "noop", every="1h")
        refused(lambda: c.create_schedule("x", "noop", every="2h"), "conflict")
        # Fires' keys are the scheduler's alone.
        refused(lambda: c.submit("noop", idempotency_key="schedule:x@2030-01-01T00:00:00Z"),
                "validation", "idempotency_key")  # fmt: skip
        forged = {"task": "noop", "idempotency_key": "schedule:x@2030-01-01T00:00:00Z"}
        refused(lambda: c.call_tool("task.run", forged), "validation", "idempotency_key")
        refused(lambda: c.list_runs(schedule="Not A Name"), "validation")
        page = c.schedules()
        assert [s.name for s in page.schedules] == ["x"] and page.next_cursor is None


def write_task(root: Path, name: str, schedules: Any) -> None:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "code.py").write_text("def run(ctx, **inputs):\n    return inputs\n")
    config = {"type": "python", "inputs": {"type": "object"}, "schedules": schedules}
    (folder / "config.json").write_text(json.dumps(config))


def test_schedules_from_task_configs_follow_the_file(make_daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tasks = tmp_path / "extra"
    write_task(tasks, "ticker", [{"name": "fast", "every": "1s", "input": {"n": 1}}])
    write_task(tasks, "broken", [{"name": "bad", "cron": "0 3 * *"}, {"cron": "@daily"}])
    d: Daemon = make_daemon(args=["--no-watch"], tasks=[tasks])
    with d.client() as c:
        fast = c.schedule("ticker/fast")
        assert (fast.origin, fast.task, fast.created_by) == ("config", "ticker", None)
        run = wait_for(lambda: runs_of(c, "ticker/fast"), what="a config fire")[0]
        assert c.wait(run.id, 10).output == {"n": 1}
        # A bad entry is a problem of its task, naming the field in config.json.
        problems = c.validate("broken").problems
        wheres = sorted(p.where for p in problems)
        assert wheres == ["config.json: schedules[0].cron", "config.json: schedules[1]"], problems
        refused(lambda: c.schedule("broken/bad"), "not_found")
        # Config schedules are changed in the file, not over the API.
        error = refused(lambda: c.pause_schedule("ticker/fast"), "conflict")
        assert "config.json" in error.message
        refused(lambda: c.delete_schedule("ticker/fast"), "conflict")
        c.trigger_schedule("ticker/fast")  # running one now is fine
        # Changed in the file: updated at the reload, its history kept; a new entry added.
        write_task(d.tasks_dir, "ticker", [
            {"name": "fast", "cron": "@yearly", "input": {"n": 2}},
            {"name": "slow", "every": "6h", "overlap": "allow"},
        ])  # fmt: skip
        c.reload()
        fast = c.schedule("ticker/fast")
        assert (fast.cron, fast.input, fast.every) == ("@yearly", {"n": 2}, None)
        assert c.schedule("ticker/slow").overlap == "allow"
        assert fast.last_run is not None
        # Removed from the file (and the task removed): gone.
        write_task(d.tasks_dir, "ticker", [])
        c.reload()
        refused(lambda: c.schedule("ticker/fast"), "not_found")
        assert [s.name for s in c.schedules(task="ticker").schedules] == []
        assert runs_of(c, "ticker/fast")  # the runs stay


def test_an_unknown_daemon_zone_stops_the_start(make_daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "seqd.toml"
    config.write_text('[scheduler]\ntimezone = "Mars/Olympus_Mons"\n')
    d: Daemon = make_daemon(args=["--config", str(config)], start=False)
    with pytest.raises(RuntimeError, match="exited with 2"):
        d.start()
    assert "scheduler.timezone: 'Mars/Olympus_Mons' is not an IANA time zone" in d.log_text()
