"""The daemon end to end on PostgreSQL: a real ``python -m seqd`` with a config file
naming the ``postgres`` backend, a run submitted and waited for (through the client
and through seqctl), then a restart that still has the run and its log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from seqd.client import Client, DaemonUnreachable

pytestmark = pytest.mark.xdist_group("postgres")

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "contrib" / "examples" / "tasks"


@dataclass
class Daemon:
    """One seqd process on PostgreSQL; its files live under ``base``."""

    base: Path
    config: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> str:
        return str(self.base / "s.sock")

    @property
    def log(self) -> Path:
        return self.base / "daemon.log"

    def start(self, timeout: float = 30.0) -> None:
        env = {**os.environ, "SEQD_CONFIG": ""}
        env.pop("NOTIFY_SOCKET", None)
        command = [sys.executable, "-m", "seqd", "--config", str(self.config)]
        command += ["--storage", "postgres", "--socket", self.socket, "--no-watch"]
        command += ["--state-dir", str(self.base / "state"), "--tasks", str(EXAMPLES)]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.base
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"seqd exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                with Client(self.socket, timeout=5) as c:
                    c.ping()
                return
            except DaemonUnreachable:
                assert time.monotonic() < deadline, f"seqd not ready:\n{self.logs()}"
                time.sleep(0.05)

    def stop(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def logs(self) -> str:
        return self.log.read_text(errors="replace")

    def seqctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "seqd.cli", *args],
            capture_output=True,
            text=True,
            env={**os.environ, "SEQD_SOCKET": self.socket},
            timeout=60,
        )


@pytest.fixture
def pg_daemon(tmp_path: Path, pg_dsn: str, pg_schema: str) -> Iterator[Daemon]:
    config = tmp_path / "seqd.toml"
    # JSON strings are TOML basic strings: the DSN needs no escaping of its own.
    config.write_text(
        f"[backends.postgres]\ndsn = {json.dumps(pg_dsn)}\nschema = {json.dumps(pg_schema)}\n"
    )
    daemon = Daemon(tmp_path, config)
    yield daemon
    if daemon.proc is not None and daemon.proc.poll() is None:
        daemon.proc.kill()
        daemon.proc.wait()


def test_daemon_on_postgres_keeps_history_across_a_restart(
    pg_daemon: Daemon, pg_schema: str, pg_admin: Callable[[], psycopg.Connection[Any]]
) -> None:
    pg_daemon.start()
    with Client(pg_daemon.socket, timeout=90) as c:
        status = c.status()
        assert status.storage.name == "postgres"
        assert "postgres" in status.plugins
        start = next(iter(c.subscribe(["run"], task="hello"))).cursor  # the live event's
        run = c.submit("hello", {"name": "x"}, wait=True, timeout_s=60)
        assert run.status == "succeeded", run.error
        assert run.output == "Hello, x."
        texts = [line.text for line in c.logs(run.id).lines]
        assert "greeting x" in texts
    cli = pg_daemon.seqctl("run", "hello", "-i", "name=cli")
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.strip() == "Hello, cli."
    assert pg_daemon.stop() == 0

    with pg_admin() as conn:
        rows = conn.execute(
            sql.SQL("SELECT id, status FROM {}.runs ORDER BY id").format(sql.Identifier(pg_schema))
        ).fetchall()
    assert len(rows) == 2 and rows[0] == (run.id, "succeeded")
    assert rows[1][1] == "succeeded"

    pg_daemon.start()
    with Client(pg_daemon.socket, timeout=90) as c:
        assert c.get_run(run.id) == run
        assert [line.text for line in c.logs(run.id).lines] == texts
        listed = c.list_runs(task="hello")
        assert [r.id for r in listed.runs] == [rows[1][0], run.id]
        assert c.status().runs.get("succeeded") == 2
        # Events replay from PostgreSQL's change positions, across the restart.
        replayed = []
        for event in c.subscribe(["run", "log"], root_id=run.id, since="0"):
            if event.topic == "live":
                break
            replayed.append(event)
        assert [e.topic for e in replayed] == ["log", "run"]
        assert [line.text for line in replayed[0].lines] == texts
        assert replayed[1].run == run
        ends = []
        for event in c.subscribe(["run"], task="hello", since=start):
            if event.topic == "live":
                break
            ends.append((event.run.id, event.run.status))
        assert ends == [(r[0], "succeeded") for r in rows]
    assert pg_daemon.stop() == 0
    assert "PostgreSQL storage open at" in pg_daemon.logs()
