"""A run's duration is right across suspend/resume and a daemon crash: ``started_at``
is the run's first start, so ``finished_at - started_at`` is its wall time, and
``running_s`` is the time it spent executing."""

from __future__ import annotations

import time
from pathlib import Path

from seqd.model.timeutil import parse_ts
from tests.conftest import Daemon

HERE = Path(__file__).resolve().parent


def wall(run) -> float:  # type: ignore[no-untyped-def]
    return parse_ts(run.finished_at) - parse_ts(run.started_at)


def test_a_run_that_slept_3s_lasted_3s_and_ran_briefly(make_daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d: Daemon = make_daemon(tasks=[HERE / "durable"])
    with d.client() as c:
        run = c.submit("d-sleep", {"path": str(tmp_path / "effects"), "seconds": 3}, wait=True)
    assert run.status == "succeeded", run.error
    assert run.output["slept"] >= 3.0
    assert wall(run) >= 3.0  # not the few ms of the execution after the wake-up
    assert run.running_s is not None and 0 < run.running_s < wall(run) - 2.5
    shown = d.seqctl("runs", "show", run.id)
    assert shown.returncode == 0, shown.stderr
    fields = dict(
        line.split(None, 1) for line in shown.stdout.splitlines() if len(line.split()) == 2
    )
    assert fields["duration"].startswith("3.") and fields["running"].endswith("ms"), fields


def test_a_run_interrupted_by_a_crash_keeps_its_start(make_daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d: Daemon = make_daemon(tasks=[HERE / "crashtasks"])
    with d.client() as c:
        first = c.submit("cr-nap", {"s": 2.0})
        deadline = time.monotonic() + 30
        while (running := c.get_run(first.id)).status != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    time.sleep(1.0)
    d.kill()
    d.start()
    with d.client() as c:
        done = c.wait(first.id, 60)
    assert done.status == "succeeded" and done.attempt == 1
    assert done.started_at == running.started_at  # the first start, not the restart
    assert wall(done) >= 1.0 + 2.0  # before the crash, then the whole nap again
    # only the execution that ended counts: the one cut by the crash has no known end
    assert done.running_s is not None and 2.0 <= done.running_s < wall(done) - 0.9
