"""One daemon per schema on PostgreSQL (``cluster = false``): a second daemon is
refused at once and changes nothing; a claim whose session dies is taken again, or —
if another daemon took the store meanwhile — the backend refuses every call rather
than share the store.

Sessions are ended with ``pg_terminate_backend`` on this test's own sessions only: the
shared server itself is never stopped or reconfigured.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pgdaemon import Daemon
from seqd_postgres import PostgresBackend, claim

from seqd.client import Client
from seqd.plugins.storage import StoreHeld
from seqd.testing.storage import new_run, run_async

pytestmark = pytest.mark.xdist_group("postgres")

ROOT = Path(__file__).resolve().parents[3]
TEST_TASKS = ROOT / "tests" / "tasks"
PgMaker = Callable[..., PostgresBackend]


def refusal_bound() -> float:
    """2 s (the issue's bound), or on a busy host what the daemon's imports cost now
    plus a second (as in tests/test_one_daemon.py): it catches a daemon that waits."""
    started = time.monotonic()
    code = "import seqd.daemon.app, seqd_postgres.backend; from seqd.plugins.host import "
    code += "PluginHost; PluginHost().load()"
    subprocess.run([sys.executable, "-c", code], env=installed_env(), check=True)
    return max(2.0, time.monotonic() - started + 1.0)


def installed_env() -> dict[str, str]:
    """No user config, bytecode caches on (this sandbox turns them off)."""
    env = {**os.environ, "SEQD_CONFIG": ""}
    for name in ("NOTIFY_SOCKET", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    return env


def claim_sessions(conn: psycopg.Connection[Any], schema: str) -> list[tuple[int, str]]:
    """(server pid, application_name) of the sessions holding ``schema``'s claim."""
    rows = conn.execute(
        "SELECT a.pid, a.application_name FROM pg_locks l JOIN pg_stat_activity a"
        " ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted"
        " AND l.classid = %s::bigint::oid"
        " AND l.objid = (hashtext(%s)::bigint & 4294967295)::oid",
        (claim.CLAIM_CLASS, schema),
    ).fetchall()
    return [(int(pid), str(name)) for pid, name in rows]


def test_second_daemon_on_the_schema_is_refused_and_the_run_executes_once(
    tmp_path: Path, pg_dsn: str, pg_schema: str
) -> None:
    import json

    config = tmp_path / "seqd.toml"
    config.write_text(
        f"[backends.postgres]\ndsn = {json.dumps(pg_dsn)}\nschema = {json.dumps(pg_schema)}\n"
        "cluster = false\n"
    )
    (tmp_path / "a").mkdir()
    first = Daemon(tmp_path / "a", config, tasks=(TEST_TASKS,))
    first.start()
    counter, gate = tmp_path / "counter", tmp_path / "gate"
    try:
        with Client(first.socket, timeout=60) as c:
            run = c.submit("count-once", {"counter": str(counter), "gate": str(gate)})
            deadline = time.monotonic() + 30
            while not counter.exists():
                assert time.monotonic() < deadline, "the run never started"
                time.sleep(0.02)
            before = c.get_run(run.id)
        assert before.status == "running"

        bound = refusal_bound()
        started = time.monotonic()
        out = subprocess.run(
            [sys.executable, "-m", "seqd", "--config", str(config), "--storage", "postgres",
             "--socket", str(tmp_path / "b.sock"), "--state-dir", str(tmp_path / "b"),
             "--tasks", str(TEST_TASKS), "--no-watch"],
            capture_output=True, text=True, env=installed_env(), timeout=60,
        )  # fmt: skip
        took = time.monotonic() - started
        assert out.returncode == 2, out.stderr
        assert first.proc is not None
        holder = f"another seqd (pid {first.proc.pid} on "
        assert holder in out.stderr and f"(schema {pg_schema})" in out.stderr, out.stderr
        assert took < bound, f"the second daemon took {took:.2f}s to give up"

        with Client(first.socket, timeout=60) as c:
            now = c.get_run(run.id)  # untouched (its pid is noted meanwhile, in memory)
            assert (now.status, now.attempt, now.started_at) == ("running", 1, before.started_at)
            gate.touch()
            done = c.wait(run.id, timeout_s=60)
        assert done.status == "succeeded" and done.attempt == 1
        assert counter.read_text().split() == [run.id]  # executed exactly once
        assert first.stop() == 0
    finally:
        if first.proc is not None and first.proc.poll() is None:
            first.proc.kill()
            first.proc.wait()


@pytest.fixture
def checked_often(monkeypatch: pytest.MonkeyPatch) -> None:
    """The claim's connection checked (and a lost claim tried again) many times a second."""
    monkeypatch.setattr(claim, "CHECK_EVERY_S", 0.1)
    monkeypatch.setattr(claim, "RETAKE_EVERY_S", 0.05)


async def claimed(pg_make: PgMaker) -> PostgresBackend:
    backend = pg_make(cluster=False)
    await backend.claim()
    await backend.open()
    return backend


def end_claim_session(conn: psycopg.Connection[Any], schema: str) -> int:
    """End the session holding ``schema``'s claim (ours); its server pid."""
    (held,) = claim_sessions(conn, schema)
    assert held[1] == claim.application_name()
    conn.execute("SELECT pg_terminate_backend(%s)", (held[0],))
    return held[0]


@pytest.mark.usefixtures("checked_often")
def test_a_claim_lost_with_its_session_is_taken_again(
    pg_make: PgMaker, pg_schema: str, pg_admin: Callable[[], psycopg.Connection[Any]]
) -> None:
    async def main() -> None:
        backend = await claimed(pg_make)
        try:
            with pg_admin() as conn:
                ended = end_claim_session(conn, pg_schema)
            deadline = time.monotonic() + 20
            while True:
                with pg_admin() as conn:
                    sessions = claim_sessions(conn, pg_schema)
                if sessions and sessions[0][0] != ended:
                    break
                assert time.monotonic() < deadline, "the claim was not taken again"
                await asyncio.sleep(0.05)
            run = new_run()
            assert await backend.create_run(run) == (run, True)
            with pytest.raises(StoreHeld):
                await pg_make(cluster=False).claim()
        finally:
            await backend.close()

    run_async(main(), timeout_s=60)


@pytest.mark.usefixtures("checked_often")
def test_a_store_taken_by_another_daemon_is_refused_from_then_on(
    pg_make: PgMaker, pg_schema: str, pg_admin: Callable[[], psycopg.Connection[Any]]
) -> None:
    async def main() -> None:
        backend = await claimed(pg_make)
        with pg_admin() as intruder:
            try:
                end_claim_session(intruder, pg_schema)
                # Another "daemon" (named as one, on another host) takes the store at once.
                intruder.execute("SET application_name = 'seqd pid=4242 host=elsewhere'")
                deadline = time.monotonic() + 10
                while not intruder.execute(
                    "SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                    (claim.CLAIM_CLASS, pg_schema),
                ).fetchone()[0]:  # type: ignore[index]
                    assert time.monotonic() < deadline, "the killed session kept the claim"
                    await asyncio.sleep(0.01)
                deadline = time.monotonic() + 20
                while backend.claimed is not None and backend.claimed.lost is None:
                    assert time.monotonic() < deadline, "the lost claim went unnoticed"
                    await asyncio.sleep(0.05)
                with pytest.raises(StoreHeld) as refused:
                    await backend.create_run(new_run())
                assert "pid 4242 on elsewhere" in refused.value.message
            finally:
                await backend.close()

    run_async(main(), timeout_s=60)
