"""Runs end to end through a real daemon: python and shell tasks, failures, cancel,
timeouts, retries, concurrency, logs."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import psutil
import pytest

from seqd.client import RpcError

if TYPE_CHECKING:  # only for annotations: 'conftest' may name another package's module
    from conftest import Daemon


def test_hello_with_signature_schema(daemon: Daemon) -> None:
    with daemon.client() as c:
        run = c.submit("hello", {"name": "Ada"}, wait=True, timeout_s=60)
        assert run.status == "succeeded", run.error
        assert run.output == "Hello, Ada."
        assert run.attempt == 1 and run.root_id == run.id
        assert run.task_version and run.started_at and run.finished_at
        assert run.created_at <= run.started_at <= run.finished_at
        assert run.resources is not None and run.resources.cpu_s is not None
        logs = c.logs(run.id)
        assert [line.text for line in logs.lines] == ["greeting Ada"]
        assert logs.finished
        task = c.task("hello")
        assert task.inputs_from == "signature"
        assert task.inputs is not None
        with pytest.raises(RpcError) as err:
            c.submit("hello", {"name": 5})
        assert err.value.type == "validation"
        assert "name" in err.value.details["field"]
        with pytest.raises(RpcError) as err:
            c.submit("hello", {"nme": "typo"})
        assert err.value.type == "validation"


def test_python_exception_becomes_failed_run(daemon: Daemon) -> None:
    with daemon.client() as c:
        run = c.submit("fail", {"message": "nope"}, wait=True, timeout_s=60)
        assert run.status == "failed"
        assert run.error is not None and run.error.type == "exception"
        assert "ValueError" in run.error.message and "nope" in run.error.message
        assert "Traceback" in run.error.details["traceback"]
        assert "about to fail" in [line.text for line in c.logs(run.id).lines]


def test_worker_exit_and_non_json_output(daemon: Daemon) -> None:
    with daemon.client() as c:
        run = c.submit("exit", {"code": 3}, wait=True, timeout_s=60)
        assert run.status == "failed" and run.error.type == "crashed"
        run = c.submit("nonjson", wait=True, timeout_s=60)
        assert run.status == "failed" and run.error.type == "invalid_output"
        assert c.submit("hello", wait=True, timeout_s=60).status == "succeeded"


def test_async_task(daemon: Daemon) -> None:
    with daemon.client() as c:
        run = c.submit("asyncecho", {"value": "v"}, wait=True, timeout_s=60)
        assert run.output == "v"


def test_blocking_task_cancel_and_daemon_stays_responsive(daemon: Daemon) -> None:
    with daemon.client() as c:
        run = c.submit("block")
        deadline = time.monotonic() + 30
        while c.get_run(run.id).status != "running" and time.monotonic() < deadline:
            time.sleep(0.05)
        t0 = time.monotonic()
        assert c.ping() == "pong"
        assert time.monotonic() - t0 < 5
        cancelled = c.cancel(run.id, reason="enough")
        assert cancelled.status == "cancelled"
        assert cancelled.error.type == "cancelled" and cancelled.error.message == "enough"
        # cancelling again is harmless
        assert c.cancel(run.id).status == "cancelled"


def test_timeout(daemon: Daemon) -> None:
    with daemon.client() as c:
        run = c.submit("timeout", wait=True, timeout_s=60)
        assert run.status == "failed" and run.error.type == "timeout"


def test_retries_with_backoff(daemon: Daemon) -> None:
    with daemon.client() as c:
        run = c.submit("flaky", {"succeed_on": 3}, wait=True, timeout_s=60)
        assert run.status == "succeeded" and run.output == 3 and run.attempt == 3
        texts = [line.text for line in c.logs(run.id).lines if line.stream == "system"]
        assert len([t for t in texts if "retrying" in t]) == 2
        run = c.submit("flaky", {"succeed_on": 9}, wait=True, timeout_s=60)
        assert run.status == "failed" and run.attempt == 3


def test_shell_task(daemon: Daemon) -> None:
    with daemon.client() as c:
        run = c.submit("echo-shell", {"word": "w1"}, wait=True, timeout_s=60)
        assert run.status == "succeeded" and run.output == {"exit_code": 0}
        lines = {(line.stream, line.text) for line in c.logs(run.id).lines}
        assert ("stdout", "out:w1") in lines and ("stderr", "err") in lines
        run = c.submit("exit-shell", wait=True, timeout_s=60)
        assert run.status == "failed" and run.error.type == "exit_code"
        assert run.error.details["exit_code"] == 7
        run = c.submit("disk-usage", wait=True, timeout_s=60)
        assert run.status == "succeeded"
        assert any("Filesystem" in line.text for line in c.logs(run.id).lines)


def test_shell_cancel_kills_the_process_group(daemon: Daemon) -> None:
    with daemon.client() as c:
        run = c.submit("sleep-shell", {"seconds": 60})
        deadline = time.monotonic() + 30
        while not c.get_run(run.id).pid and time.monotonic() < deadline:
            time.sleep(0.05)
        pgid = c.get_run(run.id).pid
        assert len(_group(pgid)) >= 2
        assert c.cancel(run.id).status == "cancelled"
        time.sleep(0.2)
        assert not _group(pgid)


def _group(pgid: int | None) -> list[psutil.Process]:
    """Live (non-zombie) members of a process group."""
    found = []
    for p in psutil.process_iter():
        try:
            if os.getpgid(p.pid) == pgid and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p)
        except (OSError, psutil.Error):
            pass
    return found


def test_per_task_concurrency(daemon: Daemon) -> None:
    with daemon.client() as c:
        ids = [c.submit("limited", {"seconds": 0.3}).id for _ in range(3)]
        spans = sorted(c.wait(i, timeout_s=60).output for i in ids)
        for (_, end), (start, _) in zip(spans, spans[1:]):
            assert start >= end - 0.01  # never overlapping


def test_detach_list_filters_and_pagination(daemon: Daemon) -> None:
    with daemon.client() as c:
        ids = [c.submit("noop").id for _ in range(7)]
        for i in ids:
            c.wait(i, timeout_s=60)
        page = c.list_runs(task="noop", limit=3)
        assert [r.id for r in page.runs] == ids[::-1][:3]
        seen = [r.id for r in c.iter_runs(task="noop", limit=3)]
        assert seen == ids[::-1]
        assert all(r.status == "succeeded" for r in c.list_runs(status="succeeded").runs)
        assert c.list_runs(status="running").runs == []


def test_unknown_and_invalid_tasks(daemon: Daemon) -> None:
    with daemon.client() as c:
        with pytest.raises(RpcError) as err:
            c.submit("no-such-task")
        assert err.value.type == "not_found"
        with pytest.raises(RpcError) as err:
            c.submit("bad-config")
        assert err.value.type == "not_runnable"
        assert "timeout_s" in err.value.message
        result = c.validate("bad-config")
        assert not result.ok and result.problems[0].where.endswith("timeout_s")
        summaries = {t.name: t for t in c.tasks()}
        assert not summaries["bad-config"].valid
        with pytest.raises(RpcError) as err:
            c.call("tasks.get", {"name": "../../etc"})
        assert err.value.code == -32602
        with pytest.raises(RpcError) as err:
            c.get_run("0123456789abcdef01234567")
        assert err.value.type == "not_found"


def test_idempotency_key(daemon: Daemon) -> None:
    with daemon.client() as c:
        a = c.submit("noop", idempotency_key="k1")
        b = c.submit("noop", idempotency_key="k1")
        assert a.id == b.id
        assert len(c.list_runs(task="noop").runs) == 1
        with pytest.raises(RpcError) as err:
            c.submit("hello", idempotency_key="k1")
        assert err.value.type == "conflict" and a.id in err.value.message
        with pytest.raises(RpcError) as err:
            c.submit("asyncecho", {"value": "a"}, idempotency_key="k2")
            c.submit("asyncecho", {"value": "b"}, idempotency_key="k2")
        assert err.value.type == "conflict"


def test_log_cap(make_daemon) -> None:  # type: ignore[no-untyped-def]
    d = make_daemon(start=False)
    cfg = d.base / "seqd.toml"
    cfg.write_text("[limits]\nlog_cap_bytes = 20000\n")
    d.args += ["--config", str(cfg)]
    d.start()
    with d.client() as c:
        before = psutil.Process(d.proc.pid).memory_info().rss
        run = c.submit("big-output", {"mib": 200}, wait=True, timeout_s=120)
        assert run.status == "succeeded", run.error
        after = psutil.Process(d.proc.pid).memory_info().rss
        lines = c.logs(run.id, limit=1000).lines
        assert sum(len(line.text) + 1 for line in lines if line.stream == "stdout") <= 20000
        assert "log cap" in lines[-1].text
        assert after - before < 30 * 1024 * 1024


def test_cancel_during_a_timeout_kill_wins_and_stops_retries(daemon: Daemon) -> None:
    with daemon.client() as c:
        run = c.submit("stubborn")
        deadline = time.monotonic() + 30
        while c.get_run(run.id).status != "running" and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.5)  # the timeout fired; the command ignores SIGTERM (6 s grace)
        t0 = time.monotonic()
        final = c.cancel(run.id, reason="stop it")
        assert final.status == "cancelled" and final.attempt == 1, final
        assert final.error.message == "stop it"
        assert time.monotonic() - t0 < 20
        time.sleep(0.5)
        assert c.get_run(run.id).status == "cancelled"


def test_deeply_nested_input_is_refused_not_stuck(daemon: Daemon) -> None:
    deep: object = "x"
    for _ in range(200):
        deep = [deep]
    with daemon.client() as c:
        with pytest.raises(RpcError) as err:
            c.submit("pyecho", {"value": deep}, wait=True, timeout_s=10)
        assert err.value.type == "validation" and "nested" in err.value.message
        assert c.list_runs(task="pyecho").runs == []
        ok = c.submit("pyecho", {"value": [[[1]]]}, wait=True, timeout_s=30)
        assert ok.status == "succeeded"
