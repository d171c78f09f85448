"""The overlap policies while runs are unfinished, and the misfire policies after the
daemon was down, on a real daemon."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

from schedule_helpers import runs_of, seconds, wait_for

if TYPE_CHECKING:
    from conftest import Daemon


def test_overlap_skip_queue_and_allow(daemon: Daemon) -> None:
    with daemon.client() as c:
        c.create_schedule("skip", "block", every="1s")  # overlap skip is the default
        c.create_schedule("allow", "block", every="1s", overlap="allow")
        c.create_schedule("queue", "sleep-shell", every="1s", overlap="queue",
                          input={"seconds": 1.5})  # fmt: skip
        wait_for(lambda: len(runs_of(c, "allow")) >= 3, what="3 overlapping runs")
        wait_for(lambda: len(c.schedule("queue").queued) >= 2, what="fires waiting in line")
        # skip: its first run blocks forever, so every later fire is dropped.
        assert len(runs_of(c, "skip")) == 1
        assert "schedule skip: skipped the fire for" in daemon.log_text()
        # allow: the runs overlap.
        running = [r for r in runs_of(c, "allow") if r.status in ("queued", "running")]
        assert len(running) >= 2
        # queue: one after the other, in the order of their fire times.
        c.pause_schedule("skip")
        c.delete_schedule("allow")
        for run in runs_of(c, "skip") + runs_of(c, "allow"):
            c.cancel(run.id)
        wait_for(lambda: len([r for r in runs_of(c, "queue") if r.finished_at]) >= 3,
                 timeout=30, what="3 queued runs done")  # fmt: skip
        c.pause_schedule("queue")
        done = sorted((r for r in runs_of(c, "queue") if r.finished_at), key=lambda r: r.id)
        for before, after in zip(done, done[1:], strict=False):
            assert seconds(after.started_at) >= seconds(before.finished_at)
            assert after.scheduled_for > before.scheduled_for
        fired = [r.scheduled_for for r in runs_of(c, "queue")]
        assert len(fired) == len(set(fired))


def test_misfire_policies_after_downtime(make_daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "seqd.toml"
    config.write_text("[scheduler]\nmisfire_grace_s = 0.5\n")
    d: Daemon = make_daemon(args=["--config", str(config)])
    policies = {"skip": {}, "run_once": {}, "catch_up": {"catch_up": 2}}
    with d.client() as c:
        for policy, extra in policies.items():
            c.create_schedule(policy, "noop", every="1s", misfire=policy, overlap="allow", **extra)
        wait_for(lambda: all(runs_of(c, p) for p in policies), what="a fire of each")
    d.stop()
    stopped = time.time()
    time.sleep(4.5)  # about four fires of each fall while the daemon is down
    d.start()
    with d.client() as c:
        for policy in policies:
            wait_for(lambda p=policy: f"schedule {p} missed" in d.log_text(), what=policy)
        log = d.log_text()
        for policy in policies:
            said = re.search(
                rf"schedule {policy} missed more than (\d+) fire\(s\) while the daemon was down "
                rf"\(the last for (\S+)\); misfire policy {policy}: (\d+) of them run now",
                log,
            )
            assert said is not None, log
            reach, last, ran = int(said[1]), said[2], int(said[3])
            assert reach == {"skip": 1, "run_once": 1, "catch_up": 2}[policy]  # looked back
            assert ran == {"skip": 0, "run_once": 1, "catch_up": 2}[policy]
            on_time = lambda p=policy, v=last: any(r.scheduled_for > v for r in runs_of(c, p))  # noqa: E731
            wait_for(on_time, what=f"{policy} fires on time")
            downtime = sorted(
                seconds(r.scheduled_for)
                for r in runs_of(c, policy)
                if stopped < seconds(r.scheduled_for) <= seconds(last)
            )
            newest = seconds(last)
            assert downtime == [newest - 1, newest][2 - ran :], (policy, downtime, newest)
