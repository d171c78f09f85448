"""Durable ``ctx`` operations end to end: a real daemon, real workers, SIGKILL.

Tasks under tests/durable append what their effects do to a file, so a test can count
how often each effect really happened across crashes and replays.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Daemon

TASKS = Path(__file__).resolve().parent.parent / "durable"

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def dd(make_daemon) -> Daemon:  # type: ignore[no-untyped-def]
    return make_daemon(args=["--workers", "2"], tasks=[TASKS])  # type: ignore[no-any-return]


def until(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def journal(d: Daemon, run_id: str) -> list[Any]:
    with d.client() as c:
        return list(c.steps(run_id).steps)


def ours(d: Daemon, run_id: str) -> list[tuple[str, str, str, str]]:
    """(kind, key, name, status) of the python operations' entries."""
    return [
        (s.kind, s.key, s.name, s.status)
        for s in journal(d, run_id)
        if s.kind in ("step", "tool", "child", "sleep", "signal")
    ]


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def run_status(d: Daemon, run_id: str) -> str:
    with d.client() as c:
        return str(c.get_run(run_id).status)


# -- steps ---------------------------------------------------------------------------------


def test_steps_are_journaled_and_replayed_after_a_sigkill(dd: Daemon, tmp_path: Path) -> None:
    path, gate = tmp_path / "effects", tmp_path / "gate"
    with dd.client() as c:
        run = c.submit("d-effects", {"path": str(path), "gate": str(gate)})
    # "first" is journaled before "slow" starts: ctx.step returns once it is durable.
    until(lambda: "slow-start" in lines(path), what="the slow step to start")
    assert ("step", "py.1.1", "first", "succeeded") in ours(dd, run.id)
    dd.kill()
    dd.start()
    gate.touch()
    with dd.client() as c:
        done = c.wait(run.id, timeout_s=60)
    assert done.status == "succeeded", done.error
    assert done.output == ["first", "slow-end", "s0", "s1", "s2"]
    # The journaled step happened once; the step in progress at the crash ran again
    # (at-least-once until its result is journaled); the rest once each.
    assert lines(path) == ["first", "slow-start", "slow-start", "slow-end", "s0", "s1", "s2"]
    assert ours(dd, run.id) == [
        ("step", "py.1.1", "first", "succeeded"),
        ("step", "py.1.2", "slow", "succeeded"),
        ("step", "py.1.3", "s0", "succeeded"),
        ("step", "py.1.4", "s1", "succeeded"),
        ("step", "py.1.5", "s2", "succeeded"),
    ]


def test_a_failing_step_is_journaled_and_raised_as_step_failed(dd: Daemon, tmp_path: Path) -> None:
    path = tmp_path / "effects"
    with dd.client() as c:
        run = c.submit("d-stepfail", {"path": str(path)}, wait=True, timeout_s=60)
    assert run.status == "succeeded", run.error
    assert run.output == {
        "type": "exception",
        "message": "ValueError: bad value",
        "details": {"exception": "builtins.ValueError"},
    }
    (entry,) = [s for s in journal(dd, run.id) if s.kind == "step"]
    assert entry.status == "failed"
    assert entry.data["error"]["message"] == "ValueError: bad value"
    out = dd.seqctl("runs", "steps", run.id)
    assert out.returncode == 0, out.stderr
    assert "boom" in out.stdout


def test_changed_code_is_a_nondeterminism_error(dd: Daemon, tmp_path: Path) -> None:
    name_file, gate = tmp_path / "name", tmp_path / "gate"
    name_file.write_text("charge")
    with dd.client() as c:
        run = c.submit("d-nondet", {"name_file": str(name_file), "gate": str(gate)})
    until(lambda: ours(dd, run.id), what="the first step to be journaled")
    dd.kill()
    name_file.write_text("refund")  # the code now takes another path
    dd.start()
    gate.touch()
    with dd.client() as c:
        done = c.wait(run.id, timeout_s=60)
    assert done.status == "failed"
    assert done.error is not None and done.error.type == "nondeterminism"
    assert "ctx.step('refund')" in done.error.message
    assert "ctx.step('charge')" in done.error.message
    assert done.error.details["journal"] == {"kind": "step", "name": "charge"}
    assert done.error.details["op"] == 1


def test_a_new_attempt_does_not_replay_the_last_ones_journal(dd: Daemon, tmp_path: Path) -> None:
    path = tmp_path / "effects"
    with dd.client() as c:
        run = c.submit("d-retry", {"path": str(path)}, wait=True, timeout_s=60)
    assert run.status == "succeeded", run.error
    assert (run.attempt, run.output) == (2, 2)
    assert lines(path) == ["attempt 1", "attempt 2"]
    assert [e[1] for e in ours(dd, run.id)] == ["py.1.1", "py.2.1"]


# -- tools ---------------------------------------------------------------------------------


def test_tool_results_are_journaled_and_not_called_again(dd: Daemon, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    with dd.client() as c:
        run = c.submit("d-tool", {"key": "k1", "gate": str(gate)})
    first = until(
        lambda: [s for s in journal(dd, run.id) if s.kind == "tool"], what="kv.set journaled"
    )
    dd.kill()
    time.sleep(0.05)  # a kv.set called again would get a later updated_at
    dd.start()
    gate.touch()
    with dd.client() as c:
        done = c.wait(run.id, timeout_s=60)
    assert done.status == "succeeded", done.error
    assert done.output["stored"] == first[0].data["result"]
    assert done.output["got"] == {"v": 1}
    assert done.output["missing"] == "not_found"
    assert [(k, n, s) for k, _, n, s in ours(dd, run.id)] == [
        ("tool", "kv.set", "succeeded"),
        ("tool", "kv.get", "succeeded"),
        ("tool", "no.such.tool", "failed"),
    ]
    with dd.client() as c:
        got = c.call_tool("kv.get", {"key": "k1", "task": "d-tool"}).result
    assert got["updated_at"] == first[0].data["result"]["updated_at"]


# -- child runs ----------------------------------------------------------------------------


def test_run_task_and_start_task_wait_for_children_without_a_worker(
    dd: Daemon, tmp_path: Path
) -> None:
    path = tmp_path / "effects"
    with dd.client() as c:
        run = c.submit("d-child", {"path": str(path), "fail": True})
        # While the slow child runs, the parent is suspended and holds no worker.
        until(
            lambda: (
                c.get_run(run.id).status == "suspended"
                and any(k.status == "running" for k in c.iter_runs(parent_id=run.id))
            ),
            what="the parent suspended while a child runs",
        )
        parent = c.get_run(run.id)
        assert parent.waiting_for is not None and parent.waiting_for.startswith("run:")
        status = json.loads(dd.seqctl("--json", "status").stdout)
        assert status["workers"]["busy"] <= 1  # only the child
        done = c.wait(run.id, timeout_s=60)
        kids = sorted(c.iter_runs(parent_id=run.id), key=lambda r: r.id)
    assert done.status == "succeeded", done.error
    out = done.output
    assert (out["one"], out["two"]) == (1, 2)
    assert out["failed"]["type"] == "exception"
    assert out["failed"]["child_id"] == kids[2].id
    assert out["missing"] == "not_found"
    assert [k.input.get("tag") for k in kids] == ["one", "two", "bad"]
    assert out["two_id"] == kids[1].id
    assert lines(path) == ["one", "two"]  # each child ran once across the replays
    kinds = [(k, n, s) for k, _, n, s in ours(dd, run.id)]
    assert ("child", "d-count", "started") in kinds
    assert kinds.count(("child", "d-count", "succeeded")) == 2
    assert ("child", "no-such-task", "failed") in kinds


# -- sleeps ----------------------------------------------------------------------------------


def test_sleep_suspends_the_run_without_a_worker(dd: Daemon, tmp_path: Path) -> None:
    path = tmp_path / "effects"
    with dd.client() as c:
        run = c.submit("d-sleep", {"path": str(path), "seconds": 2.0})
        until(lambda: c.get_run(run.id).status == "suspended", what="suspended")
        suspended = c.get_run(run.id)
        assert suspended.wake_at is not None and suspended.waiting_for is None
    status = json.loads(dd.seqctl("--json", "status").stdout)
    assert status["workers"]["busy"] == 0
    with dd.client() as c:
        done = c.wait(run.id, timeout_s=60)
    assert done.status == "succeeded", done.error
    assert done.output["slept"] >= 2.0
    assert lines(path) == ["before", "after"]
    (sleep,) = [s for s in journal(dd, run.id) if s.kind == "sleep"]
    assert sleep.data["seconds"] == 2.0


def test_sleep_survives_a_daemon_restart(dd: Daemon, tmp_path: Path) -> None:
    path = tmp_path / "effects"
    with dd.client() as c:
        run = c.submit("d-sleep", {"path": str(path), "seconds": 8.0})
        until(lambda: c.get_run(run.id).status == "suspended", what="suspended")
    dd.kill()
    time.sleep(3.0)  # down for part of the sleep; a slow restart still ends before due
    dd.start()
    with dd.client() as c:
        done = c.wait(run.id, timeout_s=60)
    assert done.status == "succeeded", done.error
    assert done.output["slept"] >= 8.0
    assert lines(path) == ["before", "after"]
    (sleep,) = [s for s in journal(dd, run.id) if s.kind == "sleep"]
    # The due time recorded before the crash holds: counted again from the restart,
    # the run could not have ended before due + 3 s.
    from seqd.model.timeutil import parse_ts

    assert done.finished_at is not None
    assert parse_ts(done.finished_at) - sleep.data["due"] < 2.5


def test_sleep_until_a_past_time_returns_at_once(dd: Daemon, tmp_path: Path) -> None:
    path = tmp_path / "effects"
    with dd.client() as c:
        run = c.submit("d-sleep", {"path": str(path), "until": "2000-01-01T00:00:00Z"}, wait=True)
    assert run.status == "succeeded", run.error
    assert lines(path) == ["before", "after"]


# -- signals ---------------------------------------------------------------------------------


def test_wait_signal_returns_payloads_in_order_and_times_out(dd: Daemon) -> None:
    with dd.client() as c:
        run = c.submit("d-signal", {"timeout_s": 1.0})
        until(lambda: c.get_run(run.id).status == "suspended", what="suspended")
        assert c.get_run(run.id).waiting_for == "signal:go"
        status = json.loads(dd.seqctl("--json", "status").stdout)
        assert status["workers"]["busy"] == 0
        c.signal(run.id, "go", {"n": 1})
        proc = dd.seqctl("runs", "signal", run.id, "go", "--data", '{"n": 2}')
        assert proc.returncode == 0, proc.stderr
        done = c.wait(run.id, timeout_s=60)
    assert done.status == "succeeded", done.error
    assert done.output["first"] == {"n": 1}
    assert done.output["second"] == {"n": 2}
    assert done.output["extra"].startswith("timeout: ")
    statuses = [(n, s) for k, _, n, s in ours(dd, run.id) if k == "signal"]
    assert ("go", "received") in statuses and ("extra", "timeout") in statuses


def test_wait_signal_without_timeout_takes_signals_sent_before_it_waits(dd: Daemon) -> None:
    with dd.client() as c:
        run = c.submit("d-signal", {"timeout_s": 30})
        until(lambda: c.get_run(run.id).status == "suspended", what="suspended")
        c.signal(run.id, "go", 1)
        c.signal(run.id, "go", 2)
        c.signal(run.id, "extra", "x")  # before the wait on it: it is found, not waited for
        done = c.wait(run.id, timeout_s=60)
    assert done.status == "succeeded", done.error
    assert done.output == {"first": 1, "second": 2, "extra": "x"}


def test_a_signal_wait_survives_a_daemon_restart(dd: Daemon) -> None:
    with dd.client() as c:
        run = c.submit("d-signal", {})
        until(lambda: c.get_run(run.id).status == "suspended", what="suspended")
    dd.kill()
    dd.start()
    with dd.client() as c:
        c.signal(run.id, "go", "a")
        c.signal(run.id, "go", "b")
        c.signal(run.id, "extra", "c")
        done = c.wait(run.id, timeout_s=60)
    assert done.status == "succeeded", done.error
    assert done.output == {"first": "a", "second": "b", "extra": "c"}


def test_an_async_task_suspends_and_resumes(dd: Daemon) -> None:
    with dd.client() as c:
        run = c.submit("d-async", {"seconds": 1.0})
        until(lambda: c.get_run(run.id).status == "suspended", what="suspended")
        done = c.wait(run.id, timeout_s=60)
    assert done.status == "succeeded", done.error
    assert done.output == 42


def test_malformed_operations_are_refused_and_the_run_goes_on(dd: Daemon) -> None:
    with dd.client() as c:
        run = c.submit("d-hostile", {}, wait=True, timeout_s=60)
        assert run.status == "succeeded", run.error
        assert run.output == {
            "step-shape": "validation",
            "step-json": "validation",
            "step-empty": "validation",
            "step-name": "validation",
            "tool-params": "validation",
            "child-input": "validation",
            "wait-nothing": "validation",
            "wait-negative": "validation",
            "wait-ordinal": "validation",
            "unknown": "unknown_op",
            "then": "ok",
        }
        assert c.ping() == "pong"
    assert [(k, n, s) for k, _, n, s in ours(dd, run.id)] == [("step", "fine", "succeeded")]
