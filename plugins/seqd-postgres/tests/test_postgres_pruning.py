"""Retention on PostgreSQL beyond the conformance suite: every row of a pruned run goes
(the log and journal counters too), so nothing is left for autovacuum to keep."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg import sql
from seqd_postgres import PostgresBackend

from seqd.model.retention import PruneQuery
from seqd.model.timeutil import now
from seqd.testing.storage import lines, new_run, new_step, opened, run_async

pytestmark = pytest.mark.xdist_group("postgres")

PgMaker = Callable[..., PostgresBackend]
TABLES = ("runs", "logs", "log_seqs", "steps", "step_seqs")


def rows(conn: psycopg.Connection[Any], schema: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for table in TABLES:
        query = sql.SQL("SELECT count(*) FROM {}.{}").format(
            sql.Identifier(schema), sql.Identifier(table)
        )
        row = conn.execute(query).fetchone()
        counts[table] = int(row[0]) if row is not None else -1
    return counts


def test_every_row_of_a_pruned_tree_goes(
    pg_make: PgMaker, pg_schema: str, pg_admin: Callable[[], psycopg.Connection[Any]]
) -> None:
    async def main() -> list[str]:
        async with opened(pg_make) as b:
            root = new_run(status="succeeded", finished_at=now())
            child = new_run(status="failed", finished_at=now(), parent_id=root.id)
            kept = new_run(status="running")
            for run in (root, child, kept):
                await b.create_run(run)
                await b.append_logs(run.id, lines("one", "two"))
                await b.append_steps(run.id, [new_step("state", "s")])
            batch = await b.prune_runs(PruneQuery(status="succeeded", finished_before="9999"))
            assert (batch.log_lines, batch.steps) == (4, 2)
            return batch.removed

    removed = run_async(main())
    assert len(removed) == 2
    with pg_admin() as conn:
        left = rows(conn, pg_schema)  # only the running run's: its record, 2 lines, 1 step
    assert left == {"runs": 1, "logs": 2, "log_seqs": 1, "steps": 1, "step_seqs": 1}
