"""Exactly once through crashes: the daemon is SIGKILLed at real moments — around the
fires of many schedules at once, and while its storage is stalled mid-fire — and
started again; every nominal fire time then has exactly one run, none lost, none
doubled."""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from typing import TYPE_CHECKING

import pytest
from schedule_helpers import runs_of, seconds, wait_for

if TYPE_CHECKING:
    from conftest import Daemon

pytestmark = pytest.mark.xdist_group("schedule-crash")

SCHEDULES = 40


def fired_seconds(client: object, name: str) -> list[float]:
    return [seconds(r.scheduled_for) for r in runs_of(client, name)]


def assert_each_fire_once(client: object, names: list[str], upto: float) -> None:
    """Every schedule has one run for each second from its first fire to ``upto``."""
    for name in names:
        fired = fired_seconds(client, name)
        doubled = [t for t, n in Counter(fired).items() if n > 1]
        assert not doubled, f"{name}: fires doubled: {doubled}"
        first = min(fired)
        expected = [first + i for i in range(int(upto - first) + 1)]
        missing = sorted(set(expected) - set(fired))
        assert not missing, f"{name}: fires lost: {missing}"


@pytest.mark.parametrize("storage", ["sqlite", "fs"])
def test_sigkill_around_the_fires_of_many_schedules(make_daemon, storage: str) -> None:  # type: ignore[no-untyped-def]
    d: Daemon = make_daemon(args=["--storage", storage, "--workers", "4"])
    names = [f"s{i:02d}" for i in range(SCHEDULES)]
    with d.client() as c:
        for name in names:
            c.create_schedule(name, "noop", every="1s", overlap="allow")
        wait_for(lambda: all(runs_of(c, n) for n in names), what="a fire of each")
    # Killed just after a second begins, when all forty fire at once: some are killed
    # before their run is stored, some between the run and the cursor, some after.
    for offset in (0.004, 0.012, 0.03):
        time.sleep(1 - time.time() % 1 + offset)
        d.kill()
        d.start()
    with d.client() as c:
        upto = time.time() + 1.5
        wait_for(
            lambda: all(max(fired_seconds(c, n)) >= int(upto) for n in names),
            timeout=30,
            what="fires up to now",
        )
        assert_each_fire_once(c, names, int(upto))
    recovered = d.log_text().count("had its run already")
    print(f"{recovered} fire(s) found their run made before a SIGKILL")


def test_sigkill_while_storage_is_stalled_mid_fire(make_daemon) -> None:  # type: ignore[no-untyped-def]
    d: Daemon = make_daemon(args=["--workers", "2"])
    with d.client() as c:
        c.create_schedule("stalled", "noop", every="1s", overlap="allow")
        wait_for(lambda: runs_of(c, "stalled"), what="a fire")
    # Another process holds the store's write lock across the next fire moment: the
    # fire's run cannot be stored. The daemon dies waiting for it.
    db = sqlite3.connect(d.state_dir / "seqd.db", isolation_level=None, timeout=10)
    time.sleep(1 - time.time() % 1 + 0.5)
    db.execute("BEGIN IMMEDIATE")
    stalled_from = time.time()
    time.sleep(1.2)
    d.kill()
    db.execute("ROLLBACK")
    db.close()
    d.start()
    with d.client() as c:
        upto = time.time() + 1.5
        wait_for(lambda: max(fired_seconds(c, "stalled")) >= int(upto), what="fires up to now")
        fired = fired_seconds(c, "stalled")
        assert any(stalled_from < t < stalled_from + 1.2 for t in fired)  # made after all
        assert_each_fire_once(c, ["stalled"], int(upto))
