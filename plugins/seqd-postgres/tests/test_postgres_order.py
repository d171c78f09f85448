"""Claims across nodes take the highest priority first, then the oldest run; the log of
every run write that nodes' event feeds read.

Against the real server: runs stored queued and held by no node (as a full node or a
batch stores them) are claimed in that order, one at a time or several at once, by
the plain claim and by the claim of a task with a concurrency limit; a store from
before the priority column gets its queued runs' priorities at migration; and the
claim's order is the order of the index it walks (no sort of the whole queue).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg import sql
from seqd_postgres import PostgresBackend, transitions
from seqd_postgres import cluster_sql as c
from seqd_postgres.schema import MIGRATIONS, migrate

from seqd.model.runs import Run
from seqd.plugins.storage_kit.sql import RUN_COLUMNS, run_row
from seqd.testing.storage import changed, new_run, opened, run_async

pytestmark = pytest.mark.xdist_group("postgres")

PgMaker = Callable[..., PostgresBackend]


def _queued(priorities: list[int], task: str = "t") -> list[Run]:
    """Runs in submission order (ids increase), with these priorities."""
    return [new_run(task=task, priority=p) for p in priorities]


async def _claim_all(backend: PostgresBackend, limits: dict[str, int], one: int) -> list[str]:
    """Every claimable run's id, claimed ``one`` at a time, in claim order."""
    assert backend.shared is not None
    order: list[str] = []
    while claimed := await backend.shared.claim(one, limits):
        assert len(claimed) <= one
        order += [run.id for run in claimed]
    return order


def _expected(runs: list[Run]) -> list[str]:
    return [r.id for r in sorted(runs, key=lambda r: (-r.priority, r.id))]


def test_claims_take_the_highest_priority_first_then_the_oldest(pg_make: PgMaker) -> None:
    singles = _queued([0, 5, -2, 5, 1])
    batch = _queued([3, 0, 9, 3])
    limited = _queued([0, 2, 7, 2], task="lim")

    async def main() -> None:
        async with opened(pg_make) as backend:
            for run in singles:
                await backend.create_run(run)
            await backend.create_runs(batch)
            await backend.create_runs(limited)
            # The plain claim first, then (its runs gone) the limited task's own.
            first = _expected(singles + batch) + _expected(limited)
            assert await _claim_all(backend, {"lim": 100}, 1) == first
            assert await _claim_all(backend, {"lim": 100}, 3) == []
        more = _queued([0, 4, 4, 8])
        async with opened(pg_make) as other:  # several at once, by another node
            await other.create_runs(more)
            assert await _claim_all(other, {}, 3) == _expected(more)

    run_async(main())


def test_a_store_from_before_priorities_claims_its_queued_runs_by_priority(
    pg_make: PgMaker, pg_dsn: str, pg_schema: str
) -> None:
    """Runs queued in a version 9 store (priority only in their record) are claimed in
    priority order once the store is migrated, a NUL (or an escaped one) in the input of
    one of them included."""
    runs = _queued([1, 0, 4, 1])
    runs.append(new_run(priority=3, input={"nul": "a\x00b", "text": "\\u0000"}))
    columns = ", ".join((*RUN_COLUMNS, "id", "change_seq"))
    marks = ", ".join(["%s"] * (len(RUN_COLUMNS) + 2))
    insert = f"INSERT INTO runs ({columns}) VALUES ({marks})"  # noqa: S608 -- constants

    async def main() -> None:
        conn = await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True)
        try:
            assert await migrate(conn, pg_schema, MIGRATIONS[:9]) == 9
            await conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(pg_schema)))
            for n, run in enumerate(runs, 1):
                await conn.execute(insert, (*run_row(run), n))
        finally:
            await conn.close()
        async with opened(pg_make) as backend:
            assert await _claim_all(backend, {}, 1) == _expected(runs)

    run_async(main())


def test_the_claim_walks_the_queue_index_in_its_order(
    pg_make: PgMaker, pg_schema: str, pg_admin: Callable[[], psycopg.Connection[Any]]
) -> None:
    """The claim's inner select reads ``runs_unheld`` from its start and sorts nothing,
    so its cost does not grow with the queue."""

    async def create() -> None:
        async with opened(pg_make) as backend:
            await backend.create_runs(_queued([0, 1, 2] * 50))

    run_async(create())
    inner = c.CLAIM.split("WHERE id IN (", 1)[1].rsplit(")", 1)[0]
    with pg_admin() as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(pg_schema)))
        conn.execute("ANALYZE runs")
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                f"EXPLAIN {inner}", {"node": "n", "limited": [], "n": 10}
            ).fetchall()
        )
    assert "runs_unheld" in plan, plan
    assert "Sort" not in plan, plan


def test_transitions_keep_every_write_in_order_and_a_pruned_past_comes_at_its_latest(
    pg_make: PgMaker,
) -> None:
    """Every run write of a node is in the log with the run as written, in position
    order; a claim writes nothing there. Once pruned, a reader from before the mark
    gets each run written up to it as it is now, then the log: no run is left out."""
    a, b = new_run(), new_run()

    async def main() -> None:
        async with opened(pg_make) as backend:
            shared = backend.shared
            assert shared is not None
            await backend.create_run(a)
            await backend.create_run(b)
            await shared.claim(2, {})  # no position, no transition
            await backend.update_run(changed(a, status="running"))
            await backend.update_run(changed(b, status="running"))
            await backend.update_run(changed(a, status="succeeded"))
            log = await shared.transitions(0, 100)
            assert [(c.run.id, c.run.status) for c in log] == [
                (a.id, "queued"), (b.id, "queued"), (a.id, "running"), (b.id, "running"),
                (a.id, "succeeded"),
            ]  # fmt: skip
            positions = [c.position for c in log]
            assert positions == sorted(positions) and len(set(positions)) == 5
            assert await shared.transitions(positions[2], 100) == log[3:]
            assert await shared.transitions(positions[1], 1) == [log[2]]

            async def prune(conn: Any) -> None:
                await conn.execute(transitions.PRUNE, {"keep": 1})

            await backend._read(prune)  # the log keeps only the newest write
            after = await shared.transitions(0, 100)
            assert [(c.run.id, c.run.status) for c in after] == [
                (b.id, "running"), (a.id, "succeeded"),
            ]  # fmt: skip
            assert [c.position for c in after] == positions[3:]

    run_async(main())
