"""Metrics on a real daemon: runs counted as they change (and right after a restart or a
crash), task metrics from python and shell tasks, the Prometheus exporter scraped over
HTTP and parsed with prometheus_client's own parser, and the config's refusals."""

from __future__ import annotations

import collections
import socket
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from seqd.client import RpcError
from tests.conftest import Daemon

TASKS = Path(__file__).resolve().parent / "tasks"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(make_daemon: Any, config: str = "", start: bool = True, name: str = "d") -> Daemon:
    d: Daemon = make_daemon(tasks=[TASKS], start=False, name=name)
    (d.base / "seqd.toml").write_text(config)
    d.args += ["--config", str(d.base / "seqd.toml")]
    return d.start() if start else d


def series(client: Any, name: str) -> dict[tuple[tuple[str, str], ...], Any]:
    """The series of metric ``name``: sorted labels -> value (a histogram: the Series)."""
    for family in client.metrics("json", name).families:
        if family.name == name:
            return {
                tuple(sorted(s.labels.items())): (s if family.kind == "histogram" else s.value)
                for s in family.series
            }
    return {}


def stored_counts(client: Any) -> dict[str, int]:
    counts = collections.Counter(run.status for run in client.iter_runs(limit=1000))
    return {s: counts.get(s, 0) for s in client.status().runs}


def test_runs_are_counted_as_they_change(make_daemon: Any) -> None:
    d = start(make_daemon)
    with d.client() as c:
        for _ in range(3):
            c.submit("noop", wait=True)
        c.submit("fail", wait=True)
        assert c.status().runs == stored_counts(c)
        assert c.status().runs["succeeded"] == 3 and c.status().runs["failed"] == 1
        assert series(c, "seqd_runs_submitted_total")[(("task", "noop"),)] == 3
        finished = series(c, "seqd_runs_finished_total")
        assert finished[(("status", "succeeded"), ("task", "noop"))] == 3
        assert finished[(("status", "failed"), ("task", "fail"))] == 1
        duration = series(c, "seqd_run_duration_seconds")[(("task", "noop"),)]
        assert duration.count == 3 and duration.sum > 0
        wait = series(c, "seqd_run_queue_wait_seconds")[(("task", "noop"),)]
        assert wait.count == 3
        requests = series(c, "seqd_rpc_requests_total")
        assert requests[(("method", "runs.submit"), ("outcome", "ok"))] == 4
        assert (
            series(c, "seqd_storage_call_duration_seconds")[(("operation", "create_run"),)].count
            == 4
        )
        assert series(c, "seqd_workers_total")[()] >= 1
        assert series(c, "seqd_process_resident_memory_bytes")[()] > 10 * 2**20
        with pytest.raises(RpcError):
            c.task("nope")
        with pytest.raises(RpcError):
            c.call("no.such.method")
        errors = series(c, "seqd_rpc_requests_total")
        assert errors[(("method", "tasks.get"), ("outcome", "not_found"))] == 1
        assert errors[(("method", "unknown"), ("outcome", "method_not_found"))] == 1


def test_counts_are_right_after_a_restart_and_a_crash(make_daemon: Any) -> None:
    d = start(make_daemon)
    with d.client() as c:
        for _ in range(4):
            c.submit("noop", wait=True)
        c.submit("fail", wait=True)
        slow = c.submit("sleep-shell", {"seconds": 30})
        c.wait(slow.id, timeout_s=0.5)
        before = c.status().runs
        assert before["running"] + before["queued"] == 1
    d.kill()  # SIGKILL: nothing is flushed, no shutdown runs
    d.start()
    with d.client() as c:
        after = c.status().runs
        assert after == stored_counts(c)
        assert (after["succeeded"], after["failed"]) == (4, 1)
        assert after["running"] + after["queued"] == 1  # the interrupted run is back in line
        c.cancel(slow.id)
        assert c.status().runs == stored_counts(c)
    d.restart()
    with d.client() as c:
        assert c.status().runs == stored_counts(c)
        assert c.status().runs["cancelled"] == 1


def test_task_metrics_from_python_and_shell(make_daemon: Any) -> None:
    d = start(make_daemon, "[metrics]\nmax_series_per_metric = 2\n")
    with d.client() as c:
        for user in ("ada", "bob", "cy", "dee"):
            assert c.submit("py-metrics", {"user": user}, wait=True).status == "succeeded"
        items = series(c, "items_done")
        assert items == {(("table", "users"), ("task", "py-metrics")): 12.0}
        assert series(c, "batch_size") == {(("task", "py-metrics"),): 3.0}
        assert series(c, "step_seconds")[(("task", "py-metrics"),)].count == 4
        per_user = series(c, "per_user")
        assert len(per_user) == 2  # capped: the 3rd and 4th users were dropped
        drops = series(c, "seqd_task_metric_drops_total")
        assert drops[(("reason", "series_cap"),)] == 2
        runs = [r for r in c.iter_runs(task="py-metrics")]
        logs = [line.text for r in runs for line in c.logs(r.id).lines]
        assert any(t.startswith("refused: metric name 'bad name'") for t in logs)
        assert sum("metric dropped" in t and "per_user" in t for t in logs) == 2

        run = c.submit("sh-metrics", wait=True)
        assert run.status == "succeeded"
        assert series(c, "rows_loaded") == {(("table", "a"), ("task", "sh-metrics")): 5.0}
        assert series(c, "temperature") == {(("task", "sh-metrics"),): 21.5}
        assert series(c, "load_seconds")[(("stage", "x"), ("task", "sh-metrics"))].count == 1
        lines = [(line.stream, line.text) for line in c.logs(run.id).lines]
        assert ("stdout", "plain line") in lines
        assert ("stdout", "::metric oops") in lines  # an unreadable line stays in the log
        assert any(s == "system" and "not a metric line" in t for s, t in lines)
        assert not any("rows_loaded" in t for _, t in lines)


def test_a_resumed_run_does_not_count_twice(make_daemon: Any) -> None:
    d = start(make_daemon)
    with d.client() as c:
        run = c.submit("py-resume", wait=True, timeout_s=30)
        assert run.status == "succeeded"
        assert [s.kind for s in c.steps(run.id).steps] == ["sleep"]  # it was suspended
        assert series(c, "resume_before") == {(("task", "py-resume"),): 1.0}
        assert series(c, "resume_after") == {(("task", "py-resume"),): 1.0}


def test_prometheus_exporter_is_scraped_and_parsed(make_daemon: Any) -> None:
    port = free_port()
    d = start(make_daemon, f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
    with d.client() as c:
        c.submit("noop", wait=True)
        c.submit("py-metrics", wait=True)
        via_rpc = c.metrics("prometheus").text
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    finished = families["seqd_runs_finished"]
    assert finished.type == "counter"
    values = {
        (s.labels["task"], s.labels["status"]): s.value
        for s in finished.samples
        if s.name == "seqd_runs_finished_total"
    }
    assert values[("noop", "succeeded")] == 1.0
    assert families["items_done"].type == "counter"
    assert families["seqd_run_duration_seconds"].type == "histogram"
    assert {s.labels["status"] for s in families["seqd_runs"].samples} >= {"queued", "failed"}
    assert families["seqd_process_resident_memory_bytes"].samples[0].value > 0
    assert "seqd_runs_finished_total" in via_rpc  # metrics.get speaks the same format
    assert {f.name for f in text_string_to_metric_families(via_rpc)} >= {"seqd_runs", "items_done"}
    assert "metrics:     http://127.0.0.1" in d.log_text()


def test_metrics_off_keep_the_run_counts(make_daemon: Any) -> None:
    d = start(make_daemon, "[metrics]\nenabled = false\n")
    with d.client() as c:
        c.submit("py-metrics", wait=True)
        result = c.metrics()
        assert result.enabled is False
        assert [f.name for f in result.families] == ["seqd_runs"]
        assert c.status().runs["succeeded"] == 1
        run = next(iter(c.iter_runs(task="py-metrics")))
        assert any("metrics are off" in line.text for line in c.logs(run.id).lines)


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ('[metrics]\nlisten = "192.0.2.1:9464"\n', "metrics.listen: 192.0.2.1 is not a loopback"),
        ('[metrics]\nlisten = "127.0.0.1"\n', "must be HOST:PORT"),
        ("[metrics]\nmax_series = 0\n", "max_series"),
        (
            '[metrics]\nenabled = false\n[[alerts.rules]]\nname = "r"\nkind = "rss"\n'
            'above = "1GiB"\n',
            "alerts.rules need metrics",
        ),
    ],
)
def test_bad_metrics_config_stops_the_daemon(make_daemon: Any, config: str, says: str) -> None:
    d = start(make_daemon, config, start=False)
    result = subprocess.run(
        d.command(), capture_output=True, text=True, timeout=60, env={"SEQD_CONFIG": "", "PATH": ""}
    )
    assert result.returncode == 2, result.stderr
    assert says in result.stderr


def test_the_exporter_refuses_a_port_in_use(make_daemon: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        d = start(make_daemon, f'[metrics]\nlisten = "127.0.0.1:{port}"\n', start=False)
        result = subprocess.run(
            d.command(), capture_output=True, text=True, timeout=60, env={"SEQD_CONFIG": ""}
        )
    assert result.returncode == 1
    assert f"metrics.listen 127.0.0.1:{port}" in result.stderr


def test_seqctl_metrics(make_daemon: Any) -> None:
    d = start(make_daemon)
    with d.client() as c:
        c.submit("noop", wait=True)
    shown = d.seqctl("metrics", "--prefix", "seqd_runs")
    assert shown.returncode == 0, shown.stderr
    assert 'seqd_runs_finished_total{task="noop",status="succeeded"}' in shown.stdout
    assert "seqd_rpc" not in shown.stdout
    text = d.seqctl("metrics", "--prometheus")
    assert text.returncode == 0
    names = {f.name for f in text_string_to_metric_families(text.stdout)}
    assert {"seqd_runs_finished", "seqd_rpc_request_duration_seconds"} <= names
    as_json = d.seqctl("metrics", "--json", "--prefix", "seqd_runs_submitted")
    assert '"seqd_runs_submitted_total"' in as_json.stdout
