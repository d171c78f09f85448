"""``seqctl schedules`` and ``seqctl runs ls --schedule`` against a real daemon."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from schedule_helpers import runs_of, wait_for

if TYPE_CHECKING:
    from conftest import Daemon


def test_seqctl_schedules(daemon: Daemon) -> None:
    added = daemon.seqctl(
        "schedules", "add", "nightly", "hello", "--cron", "0 3 * * *", "--tz", "Asia/Tokyo",
        "-i", "name=Ada", "--misfire", "catch_up", "--catch-up", "3",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("nightly: cron 0 3 * * * (Asia/Tokyo); next: ")
    assert daemon.seqctl("schedules", "add", "tick", "noop", "--every", "1s").returncode == 0
    with daemon.client() as c:
        wait_for(lambda: runs_of(c, "tick"), what="a fire")
    listed = daemon.seqctl("schedules", "ls")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["NAME", "TASK", "WHEN", "STATE", "NEXT", "FIRES", "LAST", "RUN"]
    tick = next(line for line in lines if line.startswith("tick"))
    assert "every 1s" in tick and any(s in tick for s in ("succeeded", "running", "queued"))
    assert tick.count(":") >= 6  # three times of day
    nightly = next(line for line in lines if line.startswith("nightly"))
    assert nightly.rstrip().endswith("-")  # no run yet
    shown = daemon.seqctl("schedules", "show", "nightly")
    assert "catch_up (at most 3)" in shown.stdout and '"name": "Ada"' in shown.stdout
    as_json = json.loads(daemon.seqctl("--json", "schedules", "ls", "--task", "hello").stdout)
    assert [s["name"] for s in as_json["schedules"]] == ["nightly"]
    assert len(as_json["schedules"][0]["next_fires"]) == 3
    triggered = daemon.seqctl("schedules", "trigger", "nightly", "--wait")
    assert (triggered.returncode, triggered.stdout) == (0, "Hello, Ada.\n"), triggered.stderr
    history = daemon.seqctl("runs", "ls", "--schedule", "nightly")
    assert history.returncode == 0 and len(history.stdout.splitlines()) == 2  # header, run
    assert daemon.seqctl("schedules", "pause", "tick").stdout == "paused tick\n"
    assert daemon.seqctl("schedules", "resume", "tick").stdout.startswith("resumed tick; next: ")
    assert daemon.seqctl("schedules", "rm", "tick").stdout == "deleted tick\n"
    gone = daemon.seqctl("schedules", "show", "tick")
    assert gone.returncode == 4 and "no schedule named 'tick'" in gone.stderr
    bad = daemon.seqctl("schedules", "add", "x", "noop", "--every", "soon")
    assert bad.returncode == 4 and "every" in bad.stderr
    usage = daemon.seqctl("schedules", "add", "x", "noop", "--every", "1m", "--cron", "@daily")
    assert usage.returncode == 2
