"""The issue's fault test: stop the PostgreSQL server in the middle of a load, start it
again, and count runs. Calls made while it is down must fail with
``StorageUnavailable`` (not hang, not raise anything else); every create that was
acknowledged must be there afterwards; and the backend must work again by itself.

It stops the shared local cluster with ``pg_ctlcluster``, so it needs root and a DSN
pointing at that cluster; it always starts the cluster again and waits until it
accepts connections. It holds the PostgreSQL tests' lock exclusively (see conftest.py),
so no other test is using the server meanwhile.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from seqd_postgres import PostgresBackend

from seqd.errors import StorageUnavailable
from seqd.model.runs import Run
from seqd.testing.storage import new_run, opened, run_async

pytestmark = pytest.mark.xdist_group("postgres")

PgMaker = Callable[..., PostgresBackend]
LOCAL_HOSTS = {"", "127.0.0.1", "localhost", "::1"}


@dataclass
class Cluster:
    """The local Debian cluster behind the test DSN, driven with pg_ctlcluster."""

    version: str
    dsn: str

    def ctl(self, action: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", self.version, "main", action, *extra],
            capture_output=True,
            text=True,
            timeout=120,
        )

    def accepts(self) -> bool:
        try:
            psycopg.connect(self.dsn, connect_timeout=2).close()
        except psycopg.Error:
            return False
        return True

    def wait_accepting(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.accepts():
            if time.monotonic() > deadline:
                raise AssertionError(f"PostgreSQL {self.version} does not accept connections")
            time.sleep(0.2)

    def ensure_running(self) -> None:
        if not self.accepts():
            self.ctl("start")  # "already running" is fine too
        self.wait_accepting()


@pytest.fixture
def pg_cluster(pg_dsn: str, pg_lock: None) -> Iterator[Cluster]:
    """The cluster, running again after the test whatever happened in it."""
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    host = str(conninfo_to_dict(pg_dsn).get("host", ""))
    if os.geteuid() != 0 or not shutil.which("pg_ctlcluster") or len(versions) != 1:
        pytest.skip("needs root and exactly one local Debian PostgreSQL cluster to stop")
    if host not in LOCAL_HOSTS and not host.startswith("/"):
        pytest.skip(f"the test server at {host} is not the local cluster")
    if not Path(f"/etc/postgresql/{versions[0]}/main").is_dir():
        pytest.skip(f"no cluster 'main' in /etc/postgresql/{versions[0]}")
    cluster = Cluster(versions[0], pg_dsn)
    try:
        yield cluster
    finally:
        cluster.ensure_running()


@dataclass
class Load:
    """Concurrent creators that record what was acknowledged and what failed, by phase."""

    backend: PostgresBackend
    phase: str = "before"
    acked: list[tuple[str, Run]] = field(default_factory=list)
    unavailable: list[tuple[str, str]] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)
    others: list[BaseException] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def acked_in(self, phase: str) -> int:
        return sum(1 for p, _ in self.acked if p == phase)

    async def worker(self, n: int) -> None:
        while not self.stop.is_set():
            run = new_run(task=f"load{n}", input={"pad": "x" * 200})
            phase = self.phase
            try:
                async with asyncio.timeout(40):  # far beyond any bound of the backend
                    stored, created = await self.backend.create_run(run)
            except StorageUnavailable as exc:
                self.unavailable.append((phase, exc.message))
                await asyncio.sleep(0.05)  # as the engine would, before trying again
                continue
            except TimeoutError:
                self.hangs.append(run.id)
                continue
            except Exception as exc:
                self.others.append(exc)
                continue
            assert created and stored == run
            self.acked.append((self.phase, run))


async def until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def stored_ids(pg_admin: Callable[[], psycopg.Connection[Any]], schema: str) -> set[str]:
    with pg_admin() as conn:
        rows = conn.execute(
            sql.SQL("SELECT id FROM {}.runs").format(sql.Identifier(schema))
        ).fetchall()
    return {str(r[0]) for r in rows}


@pytest.mark.pg_exclusive
def test_server_stopped_mid_load_loses_no_acknowledged_run(
    pg_cluster: Cluster,
    pg_make: PgMaker,
    pg_schema: str,
    pg_admin: Callable[[], psycopg.Connection[Any]],
) -> None:
    async def main() -> Load:
        backend = pg_make(pool_timeout_s=1.0, connect_timeout_s=2, max_size=8)
        async with opened(lambda: backend):
            load = Load(backend)
            workers = [asyncio.create_task(load.worker(n)) for n in range(16)]
            try:
                await until(lambda: load.acked_in("before") >= 300, 60, "acknowledged creates")
                load.phase = "stopping"
                stopped = await asyncio.to_thread(pg_cluster.ctl, "stop", "-m", "fast")
                assert stopped.returncode == 0, stopped.stderr
                load.phase = "down"
                await until(
                    lambda: sum(p == "down" for p, _ in load.unavailable) >= 20, 60, "refusals"
                )
                load.phase = "starting"
                started = await asyncio.to_thread(pg_cluster.ctl, "start")
                assert started.returncode == 0, started.stderr
                await asyncio.to_thread(pg_cluster.wait_accepting)
                load.phase = "after"
                # The pool reconnects by itself: creates succeed again, no reopen.
                await until(lambda: load.acked_in("after") >= 100, 60, "creates after restart")
            finally:
                load.stop.set()
                await asyncio.gather(*workers)
            again = new_run()
            assert (await backend.create_run(again))[1] > 0
            assert await backend.get_run(again.id) == again
            for _, run in load.acked[::25]:
                assert await backend.get_run(run.id) == run
        return load

    load = run_async(main(), timeout_s=110)
    assert load.hangs == [] and load.others == []
    assert load.acked_in("down") == 0
    down = [message for phase, message in load.unavailable if phase == "down"]
    assert all("unavailable" in m for m in down), down[:3]
    assert any("refused" in m or "No such file" in m for m in down), down[:3]
    acked = {run.id for _, run in load.acked}
    missing = acked - stored_ids(pg_admin, pg_schema)
    assert not missing, f"{len(missing)} acknowledged creates were lost"


@pytest.mark.pg_exclusive
def test_daemon_serves_through_a_postgres_outage(
    pg_cluster: Cluster,
    pg_dsn: str,
    pg_schema: str,
    pg_admin: Callable[[], psycopg.Connection[Any]],
    tmp_path: Path,
) -> None:
    """The whole daemon on PostgreSQL: clients get ``storage_unavailable`` while the
    server is down, the daemon keeps answering, and every accepted run finishes."""
    import json

    from test_postgres_daemon import Daemon

    config = tmp_path / "seqd.toml"
    config.write_text(
        f"[backends.postgres]\ndsn = {json.dumps(pg_dsn)}\nschema = {json.dumps(pg_schema)}\n"
        "pool_timeout_s = 1.0\nconnect_timeout_s = 2\n"
    )
    daemon = Daemon(tmp_path, config)
    daemon.start()
    try:
        _outage_under_load(daemon, pg_cluster, pg_admin, pg_schema)
    finally:
        if daemon.proc is not None and daemon.proc.poll() is None:
            daemon.proc.kill()
            daemon.proc.wait()


def _outage_under_load(
    daemon: Any,
    pg_cluster: Cluster,
    pg_admin: Callable[[], psycopg.Connection[Any]],
    pg_schema: str,
) -> None:
    import threading

    from seqd.client import Client, RpcError

    accepted: list[str] = []
    refused: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with Client(daemon.socket, timeout=60) as c:
            while not stop.is_set():
                try:
                    accepted.append(c.submit("hello", {"name": "pg"}).id)
                except RpcError as exc:
                    refused.append(exc.type)
                    time.sleep(0.05)

    threads = [threading.Thread(target=load) for _ in range(3)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while len(accepted) < 50:
            assert time.monotonic() < deadline, "no load"
            time.sleep(0.05)
        assert pg_cluster.ctl("stop", "-m", "fast").returncode == 0
        deadline = time.monotonic() + 60
        while len(refused) < 10:
            assert time.monotonic() < deadline, "no refusals while the server is down"
            time.sleep(0.05)
        with Client(daemon.socket, timeout=10) as c:
            assert c.ping() == "pong"
        assert pg_cluster.ctl("start").returncode == 0
        pg_cluster.wait_accepting()
        before = len(accepted)
        deadline = time.monotonic() + 60
        while len(accepted) < before + 50:
            assert time.monotonic() < deadline, "no submits after the restart"
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert set(refused) == {"storage_unavailable"}
    with Client(daemon.socket, timeout=120) as c:
        for run_id in accepted:
            assert c.wait(run_id, timeout_s=120).status == "succeeded", run_id
    assert daemon.stop() == 0
    assert set(accepted) <= stored_ids(pg_admin, pg_schema)
