"""Measure the PostgreSQL backend: run lifecycle throughput and listing at 100k runs.

    .venv/bin/python plugins/seqd-postgres/measure.py [--dsn DSN] [--runs 4000]

It works in a throw-away schema (dropped at the end). ``--sqlite`` measures the
built-in SQLite backend the same way, for comparison. Figures depend on the machine
and on whatever else runs on it: this prints them, it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from psycopg import sql
from seqd_postgres import PostgresStorageFactory

from seqd.builtin.storage.sqlite.backend import SQLiteStorageFactory
from seqd.model.runs import RunQuery, RunStatus
from seqd.model.timeutil import now
from seqd.plugins.storage import StorageBackend, StorageContext
from seqd.testing.storage import changed, new_run, run_async

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"


def status_of(i: int) -> RunStatus:
    """96% succeeded, 3% failed, 1% queued: a history as a busy daemon leaves it."""
    return "queued" if i % 100 == 99 else "failed" if i % 100 >= 96 else "succeeded"


async def lifecycle(backend: StorageBackend, runs: int, submitters: int) -> float:
    """Runs per second through create, queued→running, running→succeeded (CAS)."""
    per = runs // submitters

    async def submitter(n: int) -> None:
        for i in range(per):
            run = new_run(task=f"bench{n}", input={"i": i})
            await backend.create_run(run)
            running = changed(run, status="running", started_at=now())
            assert await backend.update_run(running, expect=["queued"])
            done = changed(running, status="succeeded", output=i, finished_at=now())
            assert await backend.update_run(done, expect=["running"])

    started = time.perf_counter()
    await asyncio.gather(*(submitter(n) for n in range(submitters)))
    return per * submitters / (time.perf_counter() - started)


async def fill(backend: StorageBackend, total: int) -> float:
    """Write ``total`` finished runs over 20 tasks; return runs per second."""
    parent = new_run(task="flow", status="succeeded")
    await backend.create_run(parent)
    queue = iter(range(total - 1))

    async def writer() -> None:
        for i in queue:
            child = i % 50 == 0
            await backend.create_run(
                new_run(
                    task=f"task{i % 20}",
                    status=status_of(i),
                    input={"i": i},
                    output={"ok": True},
                    parent_id=parent.id if child else None,
                    root_id=parent.id if child else None,
                )
            )

    started = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(16)))
    return total / (time.perf_counter() - started)


async def timed(fn: Callable[[], Awaitable[Any]], reps: int = 50) -> float:
    """Median milliseconds of ``fn`` over ``reps`` calls (after one warm-up)."""
    await fn()
    samples = []
    for _ in range(reps):
        started = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


async def listing(backend: StorageBackend) -> dict[str, float]:
    deep = await backend.list_runs(RunQuery(task="task7", limit=1000))
    cursor = deep.runs[-1].id
    parent = (await backend.list_runs(RunQuery(task="flow", limit=1))).runs[0].id
    return {
        "list 50, no filter": await timed(lambda: backend.list_runs(RunQuery(limit=50))),
        "list 50, task filter": await timed(
            lambda: backend.list_runs(RunQuery(task="task7", limit=50))
        ),
        "list 50, task filter, page 21 (cursor)": await timed(
            lambda: backend.list_runs(RunQuery(task="task7", limit=50, cursor=cursor))
        ),
        "list 50, status=failed": await timed(
            lambda: backend.list_runs(RunQuery(status="failed", limit=50))
        ),
        "list 50, task + status=failed": await timed(
            lambda: backend.list_runs(RunQuery(task="task3", status="failed", limit=50))
        ),
        "list 50, parent_id": await timed(
            lambda: backend.list_runs(RunQuery(parent_id=parent, limit=50))
        ),
        "get_run": await timed(lambda: backend.get_run(cursor)),
        "count_by_status": await timed(backend.count_by_status, reps=10),
        "unfinished_runs (1%)": await timed(backend.unfinished_runs, reps=10),
    }


async def measure(
    make: Callable[[], StorageBackend],
    runs: int,
    history: int,
    vacuum: Callable[[], None] | None = None,
) -> None:
    backend = make()
    await backend.open()
    try:
        rate = await lifecycle(backend, runs, submitters=8)
        print(f"  create + 2 updates, 8 submitters: {rate:,.0f} runs/s ({3 * rate:,.0f} writes/s)")
        rate = await fill(backend, history)
        print(f"  filled {history:,} runs at {rate:,.0f} runs/s (16 writers)")
        for name, ms in (await listing(backend)).items():
            print(f"  {name:<40} {ms:7.2f} ms (median)")
        if vacuum is not None:
            # Right after a bulk load the visibility map is empty, so counting reads
            # the table; autovacuum soon fixes that. This shows the steady state.
            await asyncio.to_thread(vacuum)
            print("  after VACUUM ANALYZE (what autovacuum leaves):")
            for name, ms in (await listing(backend)).items():
                print(f"  {name:<40} {ms:7.2f} ms (median)")
    finally:
        await backend.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dsn", default=os.environ.get("SEQD_TEST_POSTGRES_DSN", DEFAULT_DSN))
    parser.add_argument("--runs", type=int, default=4000)
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--durability", choices=["normal", "full"], default="normal")
    parser.add_argument("--sqlite", action="store_true", help="measure SQLite instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        context = StorageContext(state_dir=state, durability=args.durability)
        if args.sqlite:
            print(f"sqlite, durability {args.durability}")
            run_async(
                measure(
                    lambda: SQLiteStorageFactory().create({}, context), args.runs, args.history
                ),
                3600,
            )
            return
        schema = f"seqd_measure_{secrets.token_hex(4)}"
        options = {"dsn": args.dsn, "schema": schema}
        print(f"postgres, durability {args.durability}, schema {schema}")

        def vacuum() -> None:
            with psycopg.connect(args.dsn, autocommit=True) as conn:
                conn.execute(sql.SQL("VACUUM ANALYZE {}.runs").format(sql.Identifier(schema)))

        try:
            run_async(
                measure(
                    lambda: PostgresStorageFactory().create(options, context),
                    args.runs,
                    args.history,
                    vacuum,
                ),
                3600,
            )
        finally:
            with psycopg.connect(args.dsn, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


if __name__ == "__main__":
    main()
