"""Retention with a real daemon: ``runs.prune`` (and ``seqctl runs prune``) removes
whole finished run trees and nothing else, refuses bad input with the field named, and
the daemon applies ``[retention]`` by itself in the background."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from seqd.client import RpcError

if TYPE_CHECKING:
    from conftest import Daemon


def gone(c: Any, run_id: str) -> bool:
    try:
        c.get_run(run_id)
    except RpcError as exc:
        assert exc.type == "not_found"
        return True
    return False


def test_prune_removes_finished_trees_and_keeps_the_rest(daemon: Daemon) -> None:
    with daemon.client() as c:
        hellos = [c.submit("hello", {"name": str(i)}, wait=True, timeout_s=60) for i in range(3)]
        failed = c.submit("fail", {}, wait=True, timeout_s=60)
        flow = c.submit("fanout", {"texts": ["a b", "c"]}, wait=True, timeout_s=60)
        assert flow.status == "succeeded", flow.error
        states = [r.id for r in c.iter_runs(parent_id=flow.id)]
        assert states
        running = c.submit("slow", {"seconds": 60})
        keyed = c.submit("hello", {"name": "k"}, idempotency_key="once", wait=True, timeout_s=60)

    dry = daemon.seqctl("runs", "prune", "--older-than", "0s", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith(f"would remove {5 + 1 + len(states)} runs finished more than")
    recent = daemon.seqctl("runs", "prune", "--older-than", "1h", "--json")
    assert json.loads(recent.stdout) == {"runs": 0, "log_lines": 0, "steps": 0, "bytes_freed": 0}

    only_failed = daemon.seqctl("runs", "prune", "--older-than", "0s", "--status", "failed")
    assert only_failed.returncode == 0 and "removed 1 run " in only_failed.stdout
    with daemon.client() as c:
        assert gone(c, failed.id) and not gone(c, hellos[0].id)
        totals = c.prune_runs(0)
        assert totals.runs == 4 + 1 + len(states)
        assert totals.log_lines > 0 and totals.steps > 0 and totals.bytes_freed > 0
        for run_id in [r.id for r in hellos] + [flow.id, keyed.id] + states:
            assert gone(c, run_id), run_id
        assert c.get_run(running.id).status in ("queued", "running")  # unfinished: kept
        again = c.submit("hello", {"name": "k"}, idempotency_key="once")
        assert again.id != keyed.id  # the pruned run's key was free again
        c.cancel(running.id)


def test_a_retried_run_can_be_pruned_under_its_retry(daemon: Daemon) -> None:
    with daemon.client() as c:
        first = c.cancel(c.submit("slow", {"seconds": 60}).id)
        retry = c.retry(first.id)  # runs for a minute: unfinished while we prune
        assert c.prune_runs(0, ["cancelled"]).runs == 1
        assert gone(c, first.id)
        now = c.get_run(retry.id)
        assert now.status in ("queued", "running") and now.retry_of == first.id
        assert c.cancel(retry.id).retry_of == first.id  # history, not a link


def test_prune_also_clears_what_a_run_left_in_its_work_folder(daemon: Daemon) -> None:
    with daemon.client() as c:
        run = c.submit("hello", {"name": "x"}, wait=True, timeout_s=60)
        leftover = daemon.state_dir / "work" / run.id
        (leftover / "sub").mkdir(parents=True)  # as a crash after the run's end leaves it
        assert c.prune_runs(0).runs == 1
    assert not leftover.exists()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"older_than_s": -1}, "older_than_s"),
        ({"older_than_s": 0, "status": ["running"]}, "status"),
        ({"older_than_s": 0, "status": []}, "status"),
        ({"older_than_s": 0, "task": "../etc"}, "task"),
        ({}, "older_than_s"),
    ],
)
def test_bad_params_are_refused_naming_the_field(
    daemon: Daemon, params: dict[str, Any], field: str
) -> None:
    with daemon.client() as c, pytest.raises(RpcError) as refused:
        c.call("runs.prune", params)
    assert refused.value.code == -32602
    assert field in json.dumps(refused.value.details) + refused.value.message


def test_seqctl_refuses_an_age_without_a_unit(daemon: Daemon) -> None:
    out = daemon.seqctl("runs", "prune", "--older-than", "7")
    assert out.returncode == 2
    assert "--older-than: '7' is not a duration (add a unit" in out.stderr


def test_the_daemon_applies_its_retention_config(make_daemon: Any, tmp_path: Path) -> None:
    config = tmp_path / "retention.toml"
    config.write_text('[retention]\nsucceeded = "0s"\nfailed = "forever"\nevery = "1s"\n')
    d: Daemon = make_daemon(args=["--config", str(config)])
    with d.client() as c:
        done = c.submit("hello", {"name": "x"}, wait=True, timeout_s=60)
        failed = c.submit("fail", {}, wait=True, timeout_s=60)
        deadline = time.monotonic() + 30
        while not gone(c, done.id):
            assert time.monotonic() < deadline, "the background pass never pruned"
            time.sleep(0.1)
        assert c.get_run(failed.id).status == "failed"  # kept forever
    log = d.log_text()
    assert "retention: succeeded 0s, failed forever, cancelled 30d, pruned every 1s" in log
    assert "retention: pruned 1 succeeded run(s) older than 0s" in log


def test_a_bad_retention_config_stops_the_daemon_naming_the_key(tmp_path: Path) -> None:
    import subprocess
    import sys

    config = tmp_path / "bad.toml"
    config.write_text('[retention]\nfailed = "30 days"\n')
    out = subprocess.run(
        [sys.executable, "-m", "seqd", "--config", str(config), "--state-dir", str(tmp_path),
         "--socket", str(tmp_path / "s.sock")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2
    assert "retention.failed: '30 days' is not a duration" in out.stderr
    assert "'forever'" in out.stderr


def test_a_flow_in_progress_keeps_its_finished_states(make_daemon: Any, tmp_path: Path) -> None:
    flow = tmp_path / "flows" / "greet-then-hold"
    flow.mkdir(parents=True)
    (flow / "config.json").write_text(json.dumps({"type": "flow", "description": "test"}))
    graph = {
        "start": "greet",
        "states": {
            "greet": {"type": "task", "task": "hello", "input": {"name": "$.input.name"},
                      "next": "hold"},
            "hold": {"type": "task", "task": "count-once",
                     "input": {"counter": "$.input.counter", "gate": "$.input.gate"},
                     "end": True},
        },
    }  # fmt: skip
    (flow / "graph.json").write_text(json.dumps(graph))
    d: Daemon = make_daemon(tasks=[flow.parent])
    counter, gate = tmp_path / "counter", tmp_path / "gate"
    with d.client() as c:
        run = c.submit("greet-then-hold", {"name": "x", "counter": str(counter), "gate": str(gate)})
        deadline = time.monotonic() + 60
        while not counter.exists():  # the second state runs: the first has finished
            assert time.monotonic() < deadline, c.get_run(run.id)
            time.sleep(0.02)
        states = {r.task: r for r in c.iter_runs(parent_id=run.id)}
        assert states["hello"].status == "succeeded"
        assert c.prune_runs(0).runs == 0  # the tree is not finished: all of it stays
        assert c.get_run(states["hello"].id).status == "succeeded"
        gate.touch()
        assert c.wait(run.id, timeout_s=60).status == "succeeded"
        assert c.prune_runs(0).runs == 3
