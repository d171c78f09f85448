"""The daemon end to end on PostgreSQL: a real ``python -m seqd`` with a config file
naming the ``postgres`` backend, a run submitted and waited for (through the client
and through seqctl), then a restart that still has the run and its log."""

from __future__ import annotations

import calendar
import json
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pgdaemon import Daemon
from psycopg import sql

from seqd.client import Client

pytestmark = pytest.mark.xdist_group("postgres")


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


def test_schedules_fire_on_postgres_and_go_on_after_a_sigkill(pg_daemon: Daemon) -> None:
    """A schedule stored in PostgreSQL fires each second; after a SIGKILL the new daemon
    goes on from its cursor: every second has exactly one run."""
    pg_daemon.start()

    def fired(c: Client) -> list[str]:
        return [r.scheduled_for or "" for r in c.iter_runs(schedule="tick")]

    with Client(pg_daemon.socket, timeout=90) as c:
        c.create_schedule("tick", "hello", every="1s", input={"name": "pg"}, overlap="allow")
        deadline = time.monotonic() + 30
        while len(fired(c)) < 2:
            assert time.monotonic() < deadline, pg_daemon.logs()
            time.sleep(0.1)
    assert pg_daemon.proc is not None
    pg_daemon.proc.send_signal(signal.SIGKILL)
    pg_daemon.proc.wait()
    pg_daemon.start()
    with Client(pg_daemon.socket, timeout=90) as c:
        assert c.schedule("tick").origin == "api"
        first = min(fired(c))
        deadline = time.monotonic() + 30
        target = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 2))
        while max(fired(c)) < target:
            assert time.monotonic() < deadline, pg_daemon.logs()
            time.sleep(0.1)
        times = sorted(fired(c))
        assert len(times) == len(set(times)), "a fire was doubled"
        seconds = [calendar.timegm(time.strptime(t[:19], "%Y-%m-%dT%H:%M:%S")) for t in times]
        assert seconds == [seconds[0] + i for i in range(len(seconds))], "a fire was lost"
        assert times[0] == first
    assert pg_daemon.stop() == 0
