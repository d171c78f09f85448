"""Retention on PostgreSQL: one batch's trees found by a recursive query and removed in
one transaction, with their rows locked between the last check and the deletes.

Its own module because a batch is several statements on one connection (the writer's
statements are one each), and no other call shares them. Rows are deleted; PostgreSQL's
autovacuum makes their space reusable.
"""

# ruff: noqa: S608 -- statements are built from constants, never values

from __future__ import annotations

from typing import Any

from seqd.model.retention import PruneBatch, PruneQuery
from seqd.plugins.storage_kit.pruning import batch_statement, roots_of, whole_trees
from seqd_postgres.connections import Conn

# Ids compare bytewise (COLLATE "C", as the columns): the array's text takes it too.
_TREES = """
WITH RECURSIVE tree(root, id) AS (
    SELECT r COLLATE "C", r COLLATE "C" FROM unnest(%s::text[]) AS r
    UNION
    SELECT tree.root, runs.id FROM runs JOIN tree ON runs.parent_id = tree.id
)
SELECT tree.root, tree.id, runs.status FROM tree JOIN runs ON runs.id = tree.id
"""
_LOCK = "SELECT id FROM runs WHERE id = ANY(%s::text[]) ORDER BY id FOR UPDATE"
_MEASURE = """
SELECT
    (SELECT count(*) FROM logs WHERE run_id = ANY(%(ids)s::text[])),
    (SELECT coalesce(sum(octet_length(text)), 0) FROM logs WHERE run_id = ANY(%(ids)s::text[])),
    (SELECT count(*) FROM steps WHERE run_id = ANY(%(ids)s::text[])),
    (SELECT coalesce(sum(octet_length(data)), 0) FROM steps WHERE run_id = ANY(%(ids)s::text[])),
    (SELECT coalesce(sum(octet_length(data)), 0) FROM runs WHERE id = ANY(%(ids)s::text[]))
"""
_DELETE = tuple(
    f"DELETE FROM {table} WHERE {column} = ANY(%s::text[])"
    for table, column in (
        ("logs", "run_id"),
        ("log_seqs", "run_id"),
        ("steps", "run_id"),
        ("step_seqs", "run_id"),
        ("runs", "id"),
    )
)


async def roots(conn: Conn, query: PruneQuery) -> tuple[list[str], str | None]:
    """The batch's candidate roots and its cursor."""
    # Timestamps compare bytewise, as text in SQLite: the same order in any locale.
    finished_at = """((r.data::json ->> 'finished_at') COLLATE "C")"""
    text, params = batch_statement(query, "%s", finished_at)
    return roots_of(await (await conn.execute(text, params)).fetchall(), query)


async def _trees(conn: Conn, roots: list[str], within: set[str] | None = None) -> list[str]:
    rows: list[Any] = await (await conn.execute(_TREES, (roots,))).fetchall()
    return whole_trees(((str(a), str(b), str(c)) for a, b, c in rows), within)


async def _measured(conn: Conn, doomed: list[str]) -> PruneBatch:
    row = await (await conn.execute(_MEASURE, {"ids": doomed})).fetchone()
    assert row is not None
    lines, log_bytes, steps, step_bytes, run_bytes = (int(v) for v in row)
    return PruneBatch(
        removed=doomed,
        log_lines=lines,
        steps=steps,
        bytes_freed=log_bytes + step_bytes + run_bytes,
    )


async def measure(conn: Conn, roots: list[str]) -> PruneBatch:
    """What removing the whole trees among ``roots`` would remove."""
    doomed = await _trees(conn, roots)
    return await _measured(conn, doomed) if doomed else PruneBatch()


async def remove(conn: Conn, roots: list[str]) -> PruneBatch:
    """Remove the whole trees among ``roots`` in one transaction: their rows are locked,
    the trees checked again (a tree that changed meanwhile stays), then deleted."""
    async with conn.transaction():
        planned = await _trees(conn, roots)
        if not planned:
            return PruneBatch()
        locked = {str(r[0]) for r in await (await conn.execute(_LOCK, (planned,))).fetchall()}
        doomed = await _trees(conn, roots, within=locked)
        if not doomed:
            return PruneBatch()
        batch = await _measured(conn, doomed)
        for statement in _DELETE:
            await conn.execute(statement, (doomed,))
    return batch
