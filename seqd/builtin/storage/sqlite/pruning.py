"""Retention on the SQLite store: what one batch finds (a reader's snapshot) and
removes (one writer op, so the trees are checked and deleted in one transaction).

Its own module because a batch is several statements over a list of ids (passed as one
JSON array, read back with ``json_each``; rows come back as one JSON array too) and
none of the backend's other calls share them. Space comes back on its own: the file
is in incremental auto-vacuum, and the writer releases the freed pages after the batch
(``Writer.reclaim``).
"""

# ruff: noqa: S608 -- statements are built from constants, never values

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec

from seqd.model.retention import PruneBatch, PruneQuery
from seqd.plugins.storage_kit.pruning import batch_statement, roots_of, whole_trees

_IDS = "SELECT value FROM json_each(?)"
_TREES = """
WITH RECURSIVE tree(root, id) AS (
    SELECT value, value FROM json_each(?)
    UNION
    SELECT tree.root, runs.id FROM runs JOIN tree ON runs.parent_id = tree.id
)
SELECT json_group_array(json_array(tree.root, tree.id, runs.status))
FROM tree JOIN runs ON runs.id = tree.id
"""
_TREE_ROWS = msgspec.json.Decoder(list[tuple[str, str, str]])
_BATCH_ROWS = msgspec.json.Decoder(list[tuple[str, int | None]])  # SQLite: 1, 0 or null
_BYTES = "coalesce(sum(length(CAST({} AS BLOB))), 0)"
_MEASURE = (
    f"SELECT count(*), {_BYTES.format('text')} FROM logs WHERE run_id IN ({_IDS})",
    f"SELECT count(*), {_BYTES.format('data')} FROM steps WHERE run_id IN ({_IDS})",
    f"SELECT count(*), {_BYTES.format('data')} FROM runs WHERE id IN ({_IDS})",
)
_DELETE = (
    f"DELETE FROM logs WHERE run_id IN ({_IDS})",
    f"DELETE FROM steps WHERE run_id IN ({_IDS})",
    f"DELETE FROM runs WHERE id IN ({_IDS})",
)


def roots(conn: sqlite3.Connection, query: PruneQuery) -> tuple[list[str], str | None]:
    """The batch's candidate roots and its cursor (on a reader's connection)."""
    text, params = batch_statement(query, "?", "json_extract(r.data, '$.finished_at')")
    rows = _one(conn, f"SELECT json_group_array(json_array(id, is_root)) FROM ({text})", params)
    return roots_of(_BATCH_ROWS.decode(rows), query)


def measure(conn: sqlite3.Connection, roots: list[str]) -> PruneBatch:
    """What removing the whole trees among ``roots`` would remove."""
    doomed = whole_trees(_TREE_ROWS.decode(_one(conn, _TREES, [_json(roots)])))
    if not doomed:
        return PruneBatch()
    ids = _json(doomed)
    (lines, log_bytes), (steps, step_bytes), (_, run_bytes) = (
        conn.execute(statement, (ids,)).fetchone() for statement in _MEASURE
    )
    return PruneBatch(
        removed=doomed,
        log_lines=lines,
        steps=steps,
        bytes_freed=log_bytes + step_bytes + run_bytes,
    )


def remove(conn: sqlite3.Connection, roots: list[str]) -> PruneBatch:
    """Remove the whole trees among ``roots`` (a writer op: the check and the deletes
    share its transaction)."""
    batch = measure(conn, roots)
    if batch.removed:
        ids = _json(batch.removed)
        for statement in _DELETE:
            conn.execute(statement, (ids,))
    return batch


def _one(conn: sqlite3.Connection, statement: str, params: list[Any]) -> str:
    """The one value of an aggregate. Rows come back as one JSON array: one step of
    the statement, where a row each would let go of and take back the GIL per row, and
    with another thread (the loop) waiting for it, each take may cost it a switch
    interval (5 ms)."""
    row = conn.execute(statement, params).fetchone()
    return str(row[0]) if row is not None and row[0] is not None else "[]"


def _json(ids: list[str]) -> str:
    return msgspec.json.encode(ids).decode()
