"""One daemon per store and per socket, with real daemons: a second ``seqd`` on the same
state dir (another socket) or on the same socket exits with status 2 at once, names
the holder, and changes nothing — the run in flight executes exactly once."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Daemon

REFUSED_WITHIN_S = 2.0
"""The issue's bound on how soon a second daemon gives up (on a quiet machine)."""


LOAD_PLUGINS = "from seqd.plugins.host import PluginHost; PluginHost().load()"


def refusal_bound(*modules: str) -> float:
    """How long a refused daemon may take: ``REFUSED_WITHIN_S``, or on a host busy with
    other work, what importing the daemon (and ``modules``) costs right now plus a
    second. It catches a daemon that waits (a lock, a time-out), not a slow machine.
    Imports run with bytecode caches, as in an installed seqd (this also writes them)."""
    code = f"import {', '.join(('seqd.daemon.app', *modules))}; {LOAD_PLUGINS}"
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", code], env=cached_env(), check=True)
    return max(REFUSED_WITHIN_S, time.monotonic() - started + 1.0)


def cached_env() -> dict[str, str]:
    """The environment of a daemon as installed: no user config, bytecode caches on
    (some sandboxes turn them off, and every start then compiles what it imports)."""
    env = {**os.environ, "SEQD_CONFIG": ""}
    for name in ("NOTIFY_SOCKET", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    return env


def second_seqd(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """Start another ``seqd`` with ``args``; its result and how long it lived."""
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "seqd", "--no-watch", *args],
        capture_output=True,
        text=True,
        env=cached_env(),
        cwd=cwd,
        timeout=60,
    )
    return out, time.monotonic() - started


def wait_for_lines(path: Path, count: int, timeout: float = 30.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        lines = path.read_text().split() if path.exists() else []
        if len(lines) >= count:
            return lines
        assert time.monotonic() < deadline, f"{path} has {len(lines)} lines, not {count}"
        time.sleep(0.02)


@pytest.mark.parametrize("storage", ["sqlite", "fs"])
def test_second_daemon_changes_nothing_and_the_run_executes_once(
    make_daemon, tmp_path: Path, storage: str
) -> None:  # type: ignore[no-untyped-def]
    first: Daemon = make_daemon(args=["--storage", storage])
    bound = refusal_bound()
    counter, gate = tmp_path / "counter", tmp_path / "gate"
    with first.client() as c:
        # tests/tasks/count-once: one line per execution, then waits for the gate file
        run = c.submit("count-once", {"counter": str(counter), "gate": str(gate)})
        wait_for_lines(counter, 1)  # in flight: it has executed, and waits
        before = c.get_run(run.id)
    assert before.status == "running" and before.attempt == 1
    pid = first.proc.pid if first.proc is not None else None
    location = str(first.state_dir / ("seqd.db" if storage == "sqlite" else "files"))

    # Same store, another socket: refused by the store's claim.
    other_socket = str(first.base / "other.sock")
    out, took = second_seqd(
        "--socket", other_socket, "--state-dir", str(first.state_dir),
        "--tasks", str(first.tasks_dir), "--storage", storage,
        cwd=first.base,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert f"another seqd (pid {pid}) holds the store at {location}" in out.stderr
    assert took < bound, f"the second daemon took {took:.2f}s to give up"
    assert not os.path.exists(other_socket)

    # Same socket, another store: refused before any store is opened.
    elsewhere = first.base / "elsewhere"
    out, took = second_seqd(
        "--socket", first.socket, "--state-dir", str(elsewhere), "--storage", storage,
        cwd=first.base,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert f"another seqd (pid {pid}) is already running on {first.socket}" in out.stderr
    assert took < bound, f"the second daemon took {took:.2f}s to give up"
    assert not elsewhere.exists()

    with first.client() as c:
        assert c.ping() == "pong"  # the first one still serves on its socket
        now = c.get_run(run.id)  # and its run was not touched (but for its pid, in memory)
        assert (now.status, now.attempt, now.started_at) == ("running", 1, before.started_at)
        gate.touch()
        done = c.wait(run.id, timeout_s=60)
        texts = [line.text for line in c.logs(run.id).lines]
    assert done.status == "succeeded" and done.attempt == 1
    assert not any("runs again" in t for t in texts), texts
    assert wait_for_lines(counter, 1) == [run.id]  # executed exactly once
    assert first.stop() == 0


def test_a_socket_answering_without_a_seqd_lock_counts_as_taken(
    make_daemon, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "busy.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(8)
    try:
        d: Daemon = make_daemon(start=False)
        out, _ = second_seqd(
            "--socket", path, "--state-dir", str(d.state_dir), cwd=d.base
        )  # fmt: skip
    finally:
        listener.close()
    assert out.returncode == 2, out.stderr
    assert f"another seqd (pid {os.getpid()}) is already listening on {path}" in out.stderr
    assert not d.state_dir.exists()


def test_a_stale_socket_file_is_replaced(make_daemon) -> None:  # type: ignore[no-untyped-def]
    d: Daemon = make_daemon(start=False)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(d.socket)  # a socket file nobody listens on, as a SIGKILLed daemon leaves
    stale.close()
    d.start()
    with d.client() as c:
        assert c.ping() == "pong"
    assert d.stop() == 0
    assert not os.path.exists(d.socket)


def test_a_killed_daemon_leaves_nothing_that_stops_the_next(make_daemon) -> None:  # type: ignore[no-untyped-def]
    d: Daemon = make_daemon()
    with d.client() as c:
        run = c.submit("hello", {"name": "before"}, wait=True, timeout_s=60)
    d.kill()  # its socket file and lock files stay; their locks went with it
    assert os.path.exists(d.socket)
    d.start()
    with d.client() as c:
        assert c.get_run(run.id).status == "succeeded"
    assert d.stop() == 0


def test_a_refused_daemon_migrates_nothing(make_daemon) -> None:  # type: ignore[no-untyped-def]
    import fcntl
    import sqlite3

    from seqd.builtin.storage.sqlite.schema import MIGRATIONS, migrate

    d: Daemon = make_daemon(start=False)
    d.state_dir.mkdir(parents=True)
    db = d.state_dir / "seqd.db"
    with sqlite3.connect(db, isolation_level=None) as conn:  # a store of an older seqd
        migrate(conn, MIGRATIONS[:2])
    lock = os.open(f"{db}.lock", os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # held here, as by a daemon of that version
        Path(f"{db}.lock").write_text(f"{os.getpid()}\n")
        out, _ = second_seqd("--socket", d.socket, "--state-dir", str(d.state_dir), cwd=d.base)
    finally:
        os.close(lock)
    assert out.returncode == 2, out.stderr
    assert f"another seqd (pid {os.getpid()}) holds the store at {db}" in out.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2  # not migrated
    assert not os.path.exists(d.socket)
