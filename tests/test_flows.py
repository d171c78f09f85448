"""Flows end to end: a real daemon runs graphs from tests/flows as trees of child runs."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Daemon

FLOWS = Path(__file__).resolve().parent / "flows"


@pytest.fixture
def flowd(make_daemon) -> Daemon:  # type: ignore[no-untyped-def]
    return make_daemon(args=["--workers", "4"], tasks=[FLOWS])  # type: ignore[no-any-return]


def run_flow(d: Daemon, task: str, data: dict[str, Any] | None = None, timeout: float = 60) -> Any:
    with d.client() as c:
        return c.submit(task, data or {}, wait=True, timeout_s=timeout)


def children(d: Daemon, run_id: str) -> list[Any]:
    with d.client() as c:
        return sorted(c.iter_runs(parent_id=run_id), key=lambda r: r.id)


def steps(d: Daemon, run_id: str) -> list[Any]:
    with d.client() as c:
        return list(c.steps(run_id).steps)


def transitions(d: Daemon, run_id: str) -> list[tuple[str, str]]:
    return [(s.data["from"], s.data["to"]) for s in steps(d, run_id) if s.kind == "transition"]


def pid_alive_for(run_id: str, within: float = 5.0) -> bool:
    """Whether a process carrying this run's SEQD_RUN_ID is still there after
    ``within`` seconds (the group was signalled; its members die asynchronously)."""
    deadline = time.monotonic() + within
    while _carriers(run_id):
        if time.monotonic() > deadline:
            return True
        time.sleep(0.05)
    return False


def _carriers(run_id: str) -> bool:
    marker = f"SEQD_RUN_ID={run_id}".encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if marker in f.read().split(b"\0"):
                    return True
        except OSError:
            continue
    return False


def test_linear_flow_maps_data_and_records_transitions(flowd: Daemon) -> None:
    run = run_flow(flowd, "f-linear", {"n": 1})
    assert run.status == "succeeded", run.error
    assert run.output == {"n": 4, "text": "got 4"}
    kids = children(flowd, run.id)
    assert [k.task for k in kids] == ["inc", "inc", "inc"]
    assert [k.input for k in kids] == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert all(k.root_id == run.id and k.status == "succeeded" for k in kids)
    assert transitions(flowd, run.id) == [("one", "two"), ("two", "three")]
    outcomes = [s for s in steps(flowd, run.id) if s.kind == "state"]
    assert [(s.name, s.status, s.data["output"]) for s in outcomes] == [
        ("one", "succeeded", {"n": 2}),
        ("two", "succeeded", {"n": 3}),
        ("three", "succeeded", {"n": 4}),
    ]
    assert {s.data["child_id"] for s in outcomes} == {k.id for k in kids}


def test_flow_input_is_validated_against_its_schema(flowd: Daemon) -> None:
    proc = flowd.seqctl("run", "f-linear", "-i", "n=notanumber")
    assert proc.returncode == 4
    assert "input.n" in proc.stderr


def test_parallel_all_collects_branch_results_in_order(flowd: Daemon) -> None:
    run = run_flow(flowd, "f-parallel")
    assert run.status == "succeeded", run.error
    assert run.output == [{"n": 2}, {"n": 12}]
    assert len(children(flowd, run.id)) == 3


def test_parallel_any_takes_first_success_and_cancels_the_rest(flowd: Daemon) -> None:
    started = time.monotonic()
    run = run_flow(flowd, "f-any")
    assert run.status == "succeeded", run.error
    assert run.output == {"n": 42}
    assert time.monotonic() - started < 20
    by_task = {k.task: k for k in children(flowd, run.id)}
    assert by_task["sleep-shell"].status == "cancelled"
    assert "finished first" in by_task["sleep-shell"].error.message
    assert not pid_alive_for(by_task["sleep-shell"].id)


def test_parallel_failure_cancels_siblings_and_fails_the_flow(flowd: Daemon) -> None:
    run = run_flow(flowd, "f-failfast")
    assert run.status == "failed"
    assert run.error.type == "exception"
    assert "branch broke" in run.error.message
    assert run.error.details["state"] == "both"
    by_task = {k.task: k for k in children(flowd, run.id)}
    assert by_task["sleep-shell"].status == "cancelled"
    assert by_task["fails"].status == "failed"


def test_parallel_all_settled_never_fails(flowd: Daemon) -> None:
    run = run_flow(flowd, "f-settled")
    assert run.status == "succeeded", run.error
    ok, bad = run.output
    assert ok == {"status": "succeeded", "output": {"n": 2}, "error": None}
    assert bad["status"] == "failed" and bad["error"]["type"] == "exception"


def test_map_respects_its_concurrency_limit(flowd: Daemon) -> None:
    items = ["a", "b", "c", "d", "e", "f"]
    run = run_flow(flowd, "f-map", {"items": items})
    assert run.status == "succeeded", run.error
    assert run.output == {"tags": [f"{x}-{i}" for i, x in enumerate(items)]}
    kids = children(flowd, run.id)
    assert len(kids) == 6
    events = sorted(
        [(k.started_at, 1) for k in kids] + [(k.finished_at, -1) for k in kids],
        key=lambda e: (e[0], e[1]),
    )
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert peak == 2


def test_map_over_something_that_is_not_a_list_fails_clearly(flowd: Daemon) -> None:
    run = run_flow(flowd, "f-map", {"items": "abc"})
    assert run.status == "failed"
    assert run.error.type == "validation"
    assert "not a list" in run.error.message


def test_choice_and_fail_state(flowd: Daemon) -> None:
    big = run_flow(flowd, "f-choice", {"n": 9})
    assert (big.status, big.output) == ("succeeded", "big")
    small = run_flow(flowd, "f-choice", {"n": 2})
    assert small.status == "failed"
    assert small.error.type == "too_small"
    assert small.error.message == "n=2 is too small"
    assert transitions(flowd, small.id) == [("size", "small")]


def test_retry_with_backoff_records_each_attempt(flowd: Daemon, tmp_path: Path) -> None:
    path = tmp_path / "calls"
    run = run_flow(flowd, "f-retry", {"path": str(path)})
    assert run.status == "succeeded", run.error
    assert run.output == 3
    kids = children(flowd, run.id)
    assert [k.status for k in kids] == ["failed", "failed", "succeeded"]
    assert all("fails" in k.error.message for k in kids[:2])
    timers = [s for s in steps(flowd, run.id) if s.kind == "timer"]
    assert [round(s.data["seconds"], 2) for s in timers] == [0.2, 0.4]
    assert [s.data["error"]["type"] for s in timers] == ["exception", "exception"]
    gap1 = _ts(kids[1].created_at) - _ts(kids[0].finished_at)
    gap2 = _ts(kids[2].created_at) - _ts(kids[1].finished_at)
    assert gap1 >= 0.19 and gap2 >= 0.39


def test_state_timeout_cancels_the_child_and_takes_on_timeout(flowd: Daemon) -> None:
    run = run_flow(flowd, "f-timeout")
    assert run.status == "succeeded", run.error
    assert run.output == "late"
    (kid,) = children(flowd, run.id)
    assert kid.status == "cancelled"
    assert "timed out after 0.5s" in kid.error.message
    assert not pid_alive_for(kid.id)
    assert transitions(flowd, run.id) == [("slow", "late")]


def test_flow_timeout_fails_the_flow_and_cancels_its_children(flowd: Daemon) -> None:
    run = run_flow(flowd, "f-flowtimeout")
    assert run.status == "failed"
    assert run.error.type == "timeout"
    (kid,) = children(flowd, run.id)
    assert kid.status == "cancelled"
    assert not pid_alive_for(kid.id)


def test_catch_routes_by_error_type(flowd: Daemon) -> None:
    run = run_flow(flowd, "f-catch")
    assert run.status == "succeeded", run.error
    assert run.output == {"caught": "RuntimeError: nope"}


def test_fallback_output_replaces_a_failure(flowd: Daemon) -> None:
    run = run_flow(flowd, "f-fallback")
    assert run.status == "succeeded", run.error
    assert run.output == {"default": True, "why": "exception"}


def test_compensations_run_in_reverse_order_when_the_flow_fails(
    flowd: Daemon, tmp_path: Path
) -> None:
    path = tmp_path / "saga"
    run = run_flow(flowd, "f-saga", {"path": str(path)})
    assert run.status == "failed"
    assert "no truck" in run.error.message
    assert path.read_text().splitlines() == ["book", "pay", "refund 2", "unbook"]
    comp = [s for s in steps(flowd, run.id) if s.kind == "compensate"]
    assert [(s.name, s.status) for s in comp] == [("pay", "succeeded"), ("book", "succeeded")]


def test_nested_flow_is_a_subtree(flowd: Daemon) -> None:
    run = run_flow(flowd, "f-nested")
    assert run.status == "succeeded", run.error
    assert run.output == {"n": 104}
    inner = next(k for k in children(flowd, run.id) if k.task == "f-linear")
    assert inner.root_id == run.id
    grandchildren = children(flowd, inner.id)
    assert len(grandchildren) == 3 and all(g.root_id == run.id for g in grandchildren)
    tree = flowd.seqctl("runs", "show", run.id, "--tree")
    assert tree.returncode == 0, tree.stderr
    lines = tree.stdout.splitlines()
    assert lines[1].startswith("f-nested")
    assert any(line.startswith("├─ inner") for line in lines)
    assert any(line.startswith("│  ├─ one") for line in lines)
    assert any(line.startswith("└─ outer") for line in lines)
    as_json = json.loads(flowd.seqctl("--json", "runs", "show", run.id, "--tree").stdout)
    assert len(as_json["runs"]) == 1 + 2 + 3


def test_state_entry_cap_stops_a_loop(flowd: Daemon) -> None:
    run = run_flow(flowd, "f-loop")
    assert run.status == "failed"
    assert run.error.type == "max_state_entries"
    assert "spin" in run.error.message


def test_wait_state_delays(flowd: Daemon) -> None:
    run = run_flow(flowd, "f-wait")
    assert run.status == "succeeded", run.error
    (kid,) = children(flowd, run.id)
    assert _ts(kid.created_at) - _ts(run.started_at) >= 0.29


@pytest.mark.parametrize(
    ("when", "ok"),
    [
        ("2000-01-01T00:00:00Z", True),  # past: no wait at all
        ("2000-01-01T00:00:00+01:00", True),
        ("2000-01-01T00:00:00", False),  # no offset: would be the daemon's local time
        ("2000-01-01", False),
        ("2000-02-30T00:00:00Z", False),
    ],
)
def test_wait_until_from_the_data_is_rfc3339_as_a_literal_is(
    flowd: Daemon, when: str, ok: bool
) -> None:
    run = run_flow(flowd, "f-wait-until", {"when": when})
    if ok:
        assert run.status == "succeeded", run.error
    else:
        assert run.status == "failed"
        assert run.error.type == "validation"
        assert "until is not" in run.error.message


def test_cancel_mid_parallel_cancels_every_descendant(flowd: Daemon) -> None:
    with flowd.client() as c:
        run = c.submit("f-sleepers", {})
        deadline = time.monotonic() + 20
        while True:
            kids = list(c.iter_runs(parent_id=run.id))
            if len(kids) == 2 and all(k.status == "running" for k in kids):
                break
            assert time.monotonic() < deadline, kids
            time.sleep(0.05)
        time.sleep(0.3)  # the commands are up
        cancelled = c.cancel(run.id, "enough")
        assert cancelled.status == "cancelled"
        kids = list(c.iter_runs(parent_id=run.id))
    assert [k.status for k in kids] == ["cancelled", "cancelled"]
    assert all("enough" in k.error.message for k in kids)
    assert not any(pid_alive_for(k.id) for k in kids)


def test_invalid_flow_is_reported_and_not_runnable(flowd: Daemon) -> None:
    proc = flowd.seqctl("tasks", "validate", "f-broken")
    assert proc.returncode != 0
    assert "no-such-task" in proc.stdout + proc.stderr
    run = flowd.seqctl("run", "f-broken")
    assert run.returncode == 4
    assert "not runnable" in run.stderr


def test_steps_command_prints_the_journal(flowd: Daemon) -> None:
    run = run_flow(flowd, "f-linear", {"n": 1})
    out = flowd.seqctl("runs", "steps", run.id)
    assert out.returncode == 0, out.stderr
    assert "one → two (succeeded)" in out.stdout
    assert "transition" in out.stdout and "state" in out.stdout
    data = json.loads(flowd.seqctl("--json", "runs", "steps", run.id).stdout)
    assert [s["seq"] for s in data["steps"]] == list(range(1, len(data["steps"]) + 1))


def test_sigkill_mid_flow_resumes_without_redoing_finished_states(
    make_daemon, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    d = make_daemon(args=["--workers", "4"], tasks=[FLOWS])
    path = tmp_path / "effects"
    with d.client() as c:
        run = c.submit("f-crash", {"path": str(path)})
        deadline = time.monotonic() + 20
        while not any(
            k.task == "nap" and k.status == "running" for k in c.iter_runs(parent_id=run.id)
        ):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    d.kill()
    d.start()
    with d.client() as c:
        done = c.wait(run.id, timeout_s=60)
    assert done.status == "succeeded", done.error
    assert path.read_text().splitlines() == ["a", "b"]
    kids = children(d, run.id)
    assert [k.task for k in kids] == ["count", "nap", "count"]
    assert transitions(d, run.id) == [("a", "nap"), ("nap", "b")]


def _ts(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_tool_states_call_the_registry_and_journal_results(flowd: Daemon) -> None:
    run = run_flow(flowd, "f-tools", {"v": {"hello": "world"}})
    assert run.status == "succeeded", run.error
    assert run.output == {"value": {"hello": "world"}, "error": "validation"}
    outcomes = {s.name: s for s in steps(flowd, run.id) if s.kind == "state"}
    assert outcomes["get"].data["output"]["found"] is True
    assert outcomes["bad"].status == "failed"
    assert children(flowd, run.id) == []  # tools run in the daemon, not as child runs
    with flowd.client() as c:
        assert c.call_tool("kv.get", {"key": "greeting", "task": "f-tools"}).result["value"] == {
            "hello": "world"
        }


def test_unknown_tool_makes_the_flow_invalid(flowd: Daemon) -> None:
    proc = flowd.seqctl("tasks", "validate", "f-badtool")
    assert proc.returncode != 0
    assert "no.such" in proc.stdout


def test_example_flows_run(daemon: Daemon, tmp_path: Path) -> None:
    csv = "name,amount\nada,10\nbob,not-a-number\ncy,5\n"
    with daemon.client() as c:
        etl = c.submit(
            "etl", {"csv": csv, "out": str(tmp_path / "etl.jsonl")}, wait=True, timeout_s=60
        )
        assert etl.status == "succeeded", etl.error
        assert etl.output["rows_in"] == 3 and etl.output["rows_out"] == 2
        lines = (tmp_path / "etl.jsonl").read_text().splitlines()
        assert [json.loads(x)["name"] for x in lines] == ["Ada", "Cy"]
        nested = c.submit(
            "nested", {"csv": csv, "out": str(tmp_path / "n.jsonl")}, wait=True, timeout_s=60
        )
        assert nested.status == "succeeded", nested.error
        texts = ["one two", "three", "four five six", "", "seven"]
        fan = c.submit("fanout", {"texts": texts}, wait=True, timeout_s=60)
        assert fan.status == "succeeded", fan.error
        assert fan.output == {
            "texts": 5,
            "words": 7,
            "chars": sum(len(t) for t in texts),
            "longest": 2,
        }
        urgent = {"ticket": {"title": "Site down", "body": "everything is on fire, urgent"}}
        triage = c.submit("triage", urgent, wait=True, timeout_s=60)
        assert triage.status == "succeeded", triage.error
        assert triage.output["status"] == "notified"


def test_map_refuses_a_list_over_the_item_limit(flowd: Daemon) -> None:
    run = run_flow(flowd, "f-map", {"items": list(range(10_001))})
    assert run.status == "failed"
    assert run.error.type == "validation"
    assert "10001 items" in run.error.message
    assert children(flowd, run.id) == []


def test_sigterm_mid_flow_resumes_at_the_next_start(make_daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = make_daemon(args=["--workers", "4"], tasks=[FLOWS])
    path = tmp_path / "effects"
    with d.client() as c:
        run = c.submit("f-crash", {"path": str(path)})
        deadline = time.monotonic() + 20
        while not any(
            k.task == "nap" and k.status == "running" for k in c.iter_runs(parent_id=run.id)
        ):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert d.stop() == 0  # graceful: the flow stops at once, its nap gets the grace
    d.start()
    with d.client() as c:
        done = c.wait(run.id, timeout_s=60)
        assert done.status == "succeeded", done.error
        logs = [line.text for line in c.logs(run.id).lines if line.stream == "system"]
    assert path.read_text().splitlines() == ["a", "b"]
    assert [k.task for k in children(d, run.id)] == ["count", "nap", "count"]
    assert any("resumes" in text for text in logs)
