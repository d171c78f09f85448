"""The daemon as a process: restart, signals, reload, watching, orphans."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:  # only for annotations: 'conftest' may name another package's module
    from conftest import Daemon


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_restart_keeps_history_and_requeues(make_daemon) -> None:  # type: ignore[no-untyped-def]
    d: Daemon = make_daemon(args=["--workers", "1"])
    with d.client() as c:
        done = c.submit("hello", {"name": "before"}, wait=True, timeout_s=60)
        blocker = c.submit("slow", {"seconds": 60})
        queued = [c.submit("noop").id for _ in range(3)]
        wait_for(lambda: c.get_run(blocker.id).status == "running")
    d.kill()
    d.start()
    with d.client() as c:
        assert c.get_run(done.id).output == "Hello, before."
        again = c.get_run(blocker.id)
        assert again.status in ("queued", "running")
        assert any("runs again" in line.text for line in c.logs(blocker.id).lines)
        c.cancel(blocker.id)
        for run_id in queued:
            assert c.wait(run_id, timeout_s=60).status == "succeeded"


def test_sigkilled_daemon_leaves_no_workers_or_commands(make_daemon) -> None:  # type: ignore[no-untyped-def]
    d: Daemon = make_daemon()
    with d.client() as c:
        py = c.submit("block")
        sh = c.submit("sleep-shell", {"seconds": 120})
        wait_for(lambda: c.get_run(py.id).status == "running" and c.get_run(sh.id).pid)

    def sleeping_kids() -> dict[psutil.Process, str]:
        kids = {p: " ".join(_cmdline(p)) for p in descendants(d.proc.pid)}
        return kids if any(cmd.startswith("sleep") for cmd in kids.values()) else {}

    kids = wait_for(sleeping_kids)
    workers = [p for p, cmd in kids.items() if "seqd.runtime.worker" in cmd]
    spawners = [p for p, cmd in kids.items() if "seqd.runtime.spawner" in cmd]
    shell = [p for p, cmd in kids.items() if cmd.startswith("sleep")]
    assert workers and spawners and shell, kids
    d.kill()
    # Python workers and the spawner die with the daemon (parent-death signal / EOF).
    wait_for(lambda: not [p for p in workers + spawners if _alive(p)], timeout=15)
    # A shell command outlives the daemon by design; the next start ends it.
    assert [p for p in shell if _alive(p)]
    d.start()
    wait_for(lambda: not [p for p in shell if _alive(p)], timeout=30)
    with d.client() as c:
        c.cancel(py.id)
        c.cancel(sh.id)


def test_a_sigkilled_spawner_fails_its_runs_as_crashed_and_is_restarted(daemon: Daemon) -> None:
    with daemon.client() as c:
        assert c.submit("echo-shell", wait=True, timeout_s=60).status == "succeeded"
        sh = c.submit("sleep-shell", {"seconds": 120})
        pgid = wait_for(lambda: c.get_run(sh.id).pid)
        [spawner] = [
            p
            for p in descendants(daemon.proc.pid)
            if "seqd.runtime.spawner" in " ".join(_cmdline(p))
        ]
        spawner.send_signal(signal.SIGKILL)
        run = c.wait(sh.id, timeout_s=60)
        assert run.status == "failed" and run.error is not None
        assert run.error.type == "crashed" and "SIGKILL" in run.error.message
        # The command's whole group was ended with it.
        wait_for(lambda: not [p for p in psutil.process_iter() if _in_group(p, pgid)])
        # A new spawner serves the next run.
        again = c.submit("echo-shell", {"word": "again"}, wait=True, timeout_s=60)
        assert again.status == "succeeded"
        assert [line.text for line in c.logs(again.id).lines if line.stream == "stdout"] == [
            "out:again"
        ]
    assert "spawner process" in daemon.log_text()


def _in_group(p: psutil.Process, pgid: int) -> bool:
    try:
        return os.getpgid(p.pid) == pgid and p.status() != psutil.STATUS_ZOMBIE
    except (ProcessLookupError, psutil.Error):
        return False


def _cmdline(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def test_sigterm_grace_then_interrupt_and_requeue(make_daemon) -> None:  # type: ignore[no-untyped-def]
    d: Daemon = make_daemon(env={"SEQD_SHUTDOWN_GRACE_S": "1"})
    with d.client() as c:
        quick = c.submit("slow", {"seconds": 0.5})
        long = c.submit("slow", {"seconds": 120})
        wait_for(lambda: c.get_run(long.id).status == "running")
    t0 = time.monotonic()
    assert d.stop(signal.SIGTERM) == 0
    assert time.monotonic() - t0 < 20
    d.start()
    with d.client() as c:
        assert c.wait(quick.id, timeout_s=30).status == "succeeded"
        texts = [line.text for line in c.logs(long.id).lines]
        assert any("grace period" in t for t in texts), texts
        assert c.get_run(long.id).status in ("queued", "running")
        c.cancel(long.id)
    log = d.log_text()
    assert "stopping: SIGTERM" in log


def test_startup_prints_paths(daemon: Daemon) -> None:
    log = daemon.log_text()
    for needle in ("state dir:", "task dirs:", "storage:", "socket:", daemon.socket):
        assert needle in log


def test_second_daemon_on_same_socket_refuses(make_daemon, daemon: Daemon) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "seqd",
            "--socket",
            daemon.socket,
            "--state-dir",
            str(daemon.base / "other"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "is already running on" in out.stderr  # more in test_one_daemon.py


def test_bad_config_is_usage_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    cfg = tmp_path / "c.toml"
    cfg.write_text("workers = 'x'\n")
    out = subprocess.run(
        [sys.executable, "-m", "seqd", "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "workers" in out.stderr


def test_unknown_storage_backend_is_a_usage_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "seqd", "--storage", "nosuch", "--state-dir", str(tmp_path),
         "--socket", str(tmp_path / "s.sock")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert "unknown storage backend 'nosuch' (available: " in out.stderr


def test_sighup_reload_and_version_pinning(make_daemon) -> None:  # type: ignore[no-untyped-def]
    d: Daemon = make_daemon(args=["--no-watch"])
    code = d.tasks_dir / "hello" / "code.py"
    with d.client() as c:
        v1 = c.task("hello").version
        code.write_text(code.read_text().replace("Hello", "Howdy"))
        assert c.task("hello").version == v1  # not watching
        d.proc.send_signal(signal.SIGHUP)
        v2 = wait_for(lambda: (v := c.task("hello").version) != v1 and v)
        run = c.submit("hello", {"name": "x"}, wait=True, timeout_s=60)
        assert run.output == "Howdy, x." and run.task_version == v2
        assert c.reload().changed == []


def test_watcher_reloads_changed_and_new_tasks(daemon: Daemon) -> None:
    with daemon.client() as c:
        v1 = c.task("hello").version
        code = daemon.tasks_dir / "hello" / "code.py"
        code.write_text(code.read_text().replace("Hello", "Hi"))
        wait_for(lambda: c.task("hello").version != v1, timeout=15)
        new = daemon.tasks_dir / "brand-new"
        new.mkdir()
        (new / "code.py").write_text("def run(ctx):\n    return 42\n")
        (new / "config.json").write_text(json.dumps({"type": "python"}))
        wait_for(lambda: "brand-new" in {t.name for t in c.tasks()}, timeout=15)
        assert c.submit("brand-new", wait=True, timeout_s=60).output == 42


def test_run_keeps_version_it_started_with(daemon: Daemon) -> None:
    slow = daemon.tasks_dir / "slow" / "code.py"
    with daemon.client() as c:
        v1 = c.task("slow").version
        run = c.submit("slow", {"seconds": 1.5})
        wait_for(lambda: c.get_run(run.id).status == "running")
        slow.write_text(slow.read_text() + "\n# changed\n")
        wait_for(lambda: c.task("slow").version != v1, timeout=15)
        finished = c.wait(run.id, timeout_s=60)
        assert finished.status == "succeeded" and finished.task_version == v1


def test_shutdown_rpc(daemon: Daemon) -> None:
    with daemon.client() as c:
        assert c.shutdown().stopping
    assert daemon.proc.wait(30) == 0


def test_bad_plugin_tables_stop_the_daemon(tmp_path: Path) -> None:
    import subprocess
    import sys

    for table, key in (
        ("backends.sqlite", "pathh"),
        ("task_types.python", "prestartt"),
        ("task_types.shell", "kill_grace"),
    ):
        cfg = tmp_path / "c.toml"
        cfg.write_text(f"[{table}]\n{key} = 1\n")
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "seqd",
                "--config",
                str(cfg),
                "--socket",
                str(tmp_path / "s.sock"),
                "--state-dir",
                str(tmp_path / "state"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 2, (table, out.stderr)
        assert key in out.stderr
        assert not (tmp_path / "s.sock").exists()
