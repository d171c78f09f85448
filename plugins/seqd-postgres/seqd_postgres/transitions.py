"""Every run write of the cluster, in commit order, for the nodes' event feeds.

A node's subscribers must see each transition of every run (``queued``, ``running``,
``succeeded``), wherever the run executes. ``runs`` keeps a run's latest write only, so
each write is also kept here, under its change position, by a trigger on ``runs``
(schema version 11): every writer — the statements of this backend, batches, imports —
is covered without a statement of its own, and in the write's own transaction. Change
positions are in commit order (the counter's row lock, schema version 8), so a reader
that sees position P has seen every write before it: reading "after P" a page at a time
leaves no gap. Only nodes (``cluster``) log, through the session setting
``seqd.transitions`` (``connections``): a store used by one daemon keeps nothing here.

The log is bounded: a node's heartbeat deletes what lies more than ``KEEP`` positions
behind the newest and moves the mark ``run_transitions_pruned`` past it. A reader that
fell behind the mark gets the runs written up to it as they are now (their latest
write, as a replay gives them), then the log: nothing is left out, only transitions
older than ``KEEP`` writes are seen at their latest.
"""

# ruff: noqa: S608 -- statements are built from constants and placeholders, never values

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from seqd.model.runs import RunChange
from seqd.plugins.storage_kit import sql

if TYPE_CHECKING:
    from seqd_postgres.connections import Conn

KEEP = 100_000
"""Transitions kept behind the newest: minutes of a busy cluster, hours of a quiet one."""

SETTING = "seqd.transitions"
"""The session setting under which the trigger keeps a write (``on`` for nodes)."""

# One statement, so one snapshot: the mark and the rows it leaves agree.
READ = """
WITH mark AS (SELECT upto FROM run_transitions_pruned)
SELECT * FROM (
    SELECT change_seq, data FROM runs, mark
    WHERE change_seq > %(after)s AND change_seq <= mark.upto
    UNION ALL
    SELECT position, data FROM run_transitions, mark
    WHERE position > greatest(%(after)s, mark.upto)
) AS changes ORDER BY 1 LIMIT %(n)s
"""

PRUNE = """
WITH cut AS (SELECT last - %(keep)s AS upto FROM run_change_counter),
gone AS (DELETE FROM run_transitions WHERE position <= (SELECT upto FROM cut))
UPDATE run_transitions_pruned SET upto = (SELECT upto FROM cut)
WHERE upto < (SELECT upto FROM cut)
"""

MIGRATION = (
    "CREATE TABLE run_transitions (position bigint PRIMARY KEY, data text NOT NULL)",
    "CREATE TABLE run_transitions_pruned (upto bigint NOT NULL)",
    # What was written before the log began is read from ``runs``.
    "INSERT INTO run_transitions_pruned (upto) SELECT last FROM run_change_counter",
    f"""
    CREATE FUNCTION run_transition() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
    BEGIN
        IF current_setting('{SETTING}', true) = 'on' THEN
            INSERT INTO run_transitions (position, data) VALUES (NEW.change_seq, NEW.data);
        END IF;
        RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER runs_transition AFTER INSERT OR UPDATE OF change_seq ON runs"
    " FOR EACH ROW EXECUTE FUNCTION run_transition()",
)


async def read(conn: Conn, after: int, limit: int) -> list[RunChange]:
    """The run writes after position ``after``, oldest first, at most ``limit``."""
    cur = await conn.execute(READ, {"after": after, "n": limit})
    rows: list[tuple[Any, ...]] = await cur.fetchall()
    return [
        RunChange(position=int(position), run=sql.RUN_DECODER.decode(data))
        for position, data in rows
    ]


async def prune(conn: Conn) -> None:
    await conn.execute(PRUNE, {"keep": KEEP})
