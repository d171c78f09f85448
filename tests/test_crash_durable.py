"""Issue 6, guarantee 1: SIGKILL the daemon with 50 runs in flight — python tasks
mid-step, flows mid-parallel, shell commands running, runs suspended on timers and on
signals — start it again, and every run reaches its right end with every journaled
effect done once (the step in progress at the crash at most once more)."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import Daemon

TASKS = Path(__file__).resolve().parent / "crashtasks"
STEPPERS, FLOWS, SHELLS, SLEEPERS, WAITERS = 15, 10, 10, 10, 5


def wait_for(predicate: Any, timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_sigkill_with_fifty_runs_in_flight(make_daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d: Daemon = make_daemon(args=["--workers", "8"], tasks=[TASKS])
    steps_file = tmp_path / "steps"
    flow_file = tmp_path / "flows"
    ids: dict[str, list[str]] = {}
    with d.client() as c:
        ids["stepper"] = [
            c.submit("stepper", {"path": str(steps_file)}).id for _ in range(STEPPERS)
        ]
        ids["flow"] = [
            c.submit("cr-flow", {"path": str(flow_file), "tag": f"f{i}"}).id for i in range(FLOWS)
        ]
        ids["shell"] = [c.submit("sleep-shell", {"seconds": 3}).id for _ in range(SHELLS)]
        ids["sleeper"] = [c.submit("sleeper", {"seconds": 4}).id for _ in range(SLEEPERS)]
        ids["waiter"] = [c.submit("waiter", {}).id for _ in range(WAITERS)]
        every = [i for group in ids.values() for i in group]
        assert len(every) == 50

        def status(run_id: str) -> str:
            return str(c.get_run(run_id).status)

        # In flight: timers and signal waits suspended, some steps done, flows in
        # their parallel state, shell commands running.
        wait_for(
            lambda: all(status(i) == "suspended" for i in ids["sleeper"] + ids["waiter"]),
            what="sleepers and waiters to suspend",
        )
        wait_for(lambda: steps_file.exists() and len(steps_file.read_text().splitlines()) >= 10,
                 what="some steps")  # fmt: skip
        wait_for(
            lambda: flow_file.exists() and len(flow_file.read_text().splitlines()) >= 4,
            what="flows in their parallel state",
        )
        assert any(status(i) == "running" for i in ids["shell"])
        assert c.status().workers.busy <= 8
    d.kill()
    d.start()
    with d.client() as c:
        for run_id in ids["waiter"]:
            c.signal(run_id, "go", {"from": "test"})
        finals = {run_id: c.wait(run_id, timeout_s=90) for run_id in every}
        for run_id, run in finals.items():
            assert run.status == "succeeded", (run_id, run.task, run.error)
        assert all(finals[i].output == {"got": {"from": "test"}} for i in ids["waiter"])
        for run_id in ids["sleeper"]:
            run = finals[run_id]
            assert run.output >= _epoch(run.created_at) + 4 - 0.05  # woke when due
        # No accepted run lost: every one is there, nothing extra was started.
        listed = {r.id for r in c.iter_runs(limit=500) if r.parent_id is None}
        assert set(every) <= listed

    lines = Counter(steps_file.read_text().splitlines())
    for run_id in ids["stepper"]:
        counts = [lines[f"{run_id}:{i}"] for i in range(5)]
        assert all(n >= 1 for n in counts), (run_id, counts)
        # A journaled step never runs again; only the one in progress at the crash
        # may have run twice (at-least-once for an unjournaled step).
        assert sum(n - 1 for n in counts) <= 1, (run_id, counts)
    tags = Counter(flow_file.read_text().splitlines())
    for i in range(FLOWS):
        for part in ("a", "b", "end"):
            assert 1 <= tags[f"f{i}-{part}"] <= 2, (i, part, tags)


def _epoch(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_idempotency_key_holds_across_a_crash(make_daemon) -> None:  # type: ignore[no-untyped-def]
    d: Daemon = make_daemon(tasks=[TASKS])
    with d.client() as c:
        first = c.submit("sleep-shell", {"seconds": 30}, idempotency_key="nightly-2026-11-25")
        wait_for(lambda: c.get_run(first.id).status == "running", what="the run to start")
    d.kill()
    d.start()
    with d.client() as c:
        again = c.submit("sleep-shell", {"seconds": 30}, idempotency_key="nightly-2026-11-25")
        assert again.id == first.id
        assert [r.id for r in c.iter_runs(task="sleep-shell")] == [first.id]
        c.cancel(first.id)
