"""The issue's fault test: stop the PostgreSQL server in the middle of a load, start it
again, and count runs. Calls made while it is down must fail with
``StorageUnavailable`` (not hang, not raise anything else); every create that was
acknowledged must be there afterwards; and the backend must work again by itself.

The server stopped is a throwaway cluster of the test's own (``throwaway.py``): the
machine's shared server is never stopped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from seqd_postgres import PostgresBackend, PostgresStorageFactory
from throwaway import ThrowawayCluster, throwaway_cluster

from seqd.errors import StorageUnavailable
from seqd.model.runs import Run
from seqd.plugins.storage import StorageContext
from seqd.testing.storage import new_run, opened, run_async

SCHEMA = "seqd_outage"


@pytest.fixture
def cluster() -> Iterator[ThrowawayCluster]:
    with throwaway_cluster() as c:
        yield c


def make_backend(cluster: ThrowawayCluster, **options: Any) -> PostgresBackend:
    options = {"dsn": cluster.dsn, "schema": SCHEMA, **options}
    context = StorageContext(state_dir="/nonexistent", durability="normal")
    return PostgresStorageFactory().create(options, context)


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


def stored_ids(cluster: ThrowawayCluster) -> set[str]:
    with psycopg.connect(cluster.dsn, autocommit=True, connect_timeout=5) as conn:
        rows = conn.execute(
            sql.SQL("SELECT id FROM {}.runs").format(sql.Identifier(SCHEMA))
        ).fetchall()
    return {str(r[0]) for r in rows}


def test_server_stopped_mid_load_loses_no_acknowledged_run(cluster: ThrowawayCluster) -> None:
    async def main() -> Load:
        backend = make_backend(cluster, pool_timeout_s=1.0, connect_timeout_s=2, max_size=8)
        async with opened(lambda: backend):
            load = Load(backend)
            workers = [asyncio.create_task(load.worker(n)) for n in range(16)]
            try:
                await until(lambda: load.acked_in("before") >= 300, 60, "acknowledged creates")
                load.phase = "stopping"
                await asyncio.to_thread(cluster.stop, "fast")
                load.phase = "down"
                await until(
                    lambda: sum(p == "down" for p, _ in load.unavailable) >= 20, 60, "refusals"
                )
                load.phase = "starting"
                await asyncio.to_thread(cluster.start)
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
    missing = acked - stored_ids(cluster)
    assert not missing, f"{len(missing)} acknowledged creates were lost"


def test_daemon_serves_through_a_postgres_outage(cluster: ThrowawayCluster, tmp_path: Path) -> None:
    """The whole daemon on PostgreSQL: clients get ``storage_unavailable`` while the
    server is down, the daemon keeps answering, and every accepted run finishes."""
    import json

    from pgdaemon import Daemon

    config = tmp_path / "seqd.toml"
    config.write_text(
        f"[backends.postgres]\ndsn = {json.dumps(cluster.dsn)}\nschema = {json.dumps(SCHEMA)}\n"
        "pool_timeout_s = 1.0\nconnect_timeout_s = 2\n"
    )
    daemon = Daemon(tmp_path, config)
    daemon.start()
    try:
        _outage_under_load(daemon, cluster)
    finally:
        if daemon.proc is not None and daemon.proc.poll() is None:
            daemon.proc.kill()
            daemon.proc.wait()


def _outage_under_load(daemon: Any, cluster: ThrowawayCluster) -> None:
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
        cluster.stop("fast")
        deadline = time.monotonic() + 60
        while len(refused) < 10:
            assert time.monotonic() < deadline, "no refusals while the server is down"
            time.sleep(0.05)
        with Client(daemon.socket, timeout=10) as c:
            assert c.ping() == "pong"
        cluster.start()
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
    assert set(accepted) <= stored_ids(cluster)
