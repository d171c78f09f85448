"""Storage going away under a running daemon: clients get ``storage_unavailable``,
the daemon keeps serving, and nothing accepted is lost when storage returns."""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from seqd.client import RpcError

if TYPE_CHECKING:  # only for annotations: 'conftest' may name another package's module
    from conftest import Daemon


def test_locked_sqlite_gives_storage_unavailable_then_recovers(make_daemon: Any) -> None:
    d: Daemon = make_daemon(args=["--storage-opt", "busy_timeout_ms=200"])
    db = d.state_dir / "seqd.db"
    with d.client() as c:
        before = c.submit("slow", {"seconds": 1.5})  # in flight across the outage
        deadline = time.monotonic() + 30
        while c.get_run(before.id).status != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        lock = sqlite3.connect(db, isolation_level=None, timeout=30)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(RpcError) as err:
                c.submit("noop")
            assert err.value.type == "storage_unavailable"
            assert c.ping() == "pong"  # still serving
            time.sleep(2)  # the in-flight run ends while storage is locked
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        finished = c.wait(before.id, timeout_s=60)
        assert finished.status == "succeeded"
        after = c.submit("noop", wait=True, timeout_s=60)
        assert after.status == "succeeded"
    # and the outcome reached storage: a restart still has it
    d.restart()
    with d.client() as c:
        assert c.get_run(before.id).status == "succeeded"
        assert [line.text for line in c.logs(before.id).lines if line.stream == "stdout"]


def test_concurrent_clients_during_lock(make_daemon: Any) -> None:
    d: Daemon = make_daemon(args=["--storage-opt", "busy_timeout_ms=100"])
    db = d.state_dir / "seqd.db"
    accepted: list[str] = []
    refused: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with d.client() as c:
            while not stop.is_set():
                try:
                    accepted.append(c.submit("noop").id)
                except RpcError as exc:
                    refused.append(exc.type)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    lock = sqlite3.connect(db, isolation_level=None, timeout=30)
    lock.execute("BEGIN EXCLUSIVE")
    time.sleep(1.0)
    lock.execute("ROLLBACK")
    lock.close()
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join(30)
    assert set(refused) <= {"storage_unavailable"}
    assert refused, "the lock should have refused some submits"
    with d.client() as c:
        for run_id in accepted:
            assert c.wait(run_id, timeout_s=60).status == "succeeded"
    d.restart()
    with d.client() as c:
        stored = {r.id for r in c.iter_runs(task="noop", limit=500)}
    assert set(accepted) <= stored
