"""``import_run`` on PostgreSQL: a run, its log and its journal in one transaction,
apart from the writer (whose batches hold many callers' writes; an import's may be
large and must commit or roll back alone)."""

from __future__ import annotations

from collections.abc import Sequence

from seqd.model.runs import NewLogLine, NewStep, Run
from seqd_postgres import queries as q
from seqd_postgres.connections import Conn

SLICE = 5000
"""Rows per statement for the run's log and journal."""


async def import_run(
    conn: Conn, run: Run, logs: Sequence[NewLogLine], steps: Sequence[NewStep]
) -> bool:
    """The run first (``ON CONFLICT DO NOTHING``: a taken id or key inserts nothing,
    and then nothing else is written), then its lines and entries, numbered from 1."""
    async with conn.transaction():
        cur = await conn.execute(q.INSERT_RUN, q.run_row(run))
        if await cur.fetchone() is None:
            return False
        for i in range(0, len(logs), SLICE):
            await conn.execute(q.APPEND_LOGS, q.log_params(run.id, logs[i : i + SLICE]))
        for i in range(0, len(steps), SLICE):
            await conn.execute(q.APPEND_STEPS, q.step_params(run.id, steps[i : i + SLICE]))
    return True
