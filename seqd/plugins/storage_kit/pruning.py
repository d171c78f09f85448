"""Retention, as every backend applies it: which runs a batch examines, which of them
root a tree to remove, and which trees may go.

Its own module because the rules come from the contract (``seqd.model.retention``), not
from any one store: a tree goes whole, once every run in it is finished; it is as old
as its root; a run whose parent is gone roots its own tree. The SQL backends share the
statement that finds a batch's roots; each backend walks trees and removes them its
own way (a recursive query, the file store's in-memory index).
"""

# ruff: noqa: S608 -- statements are built from constants and placeholders, never values

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from seqd.errors import ValidationFailed
from seqd.model.retention import PruneQuery
from seqd.model.status import TERMINAL


class _Ended(msgspec.Struct):
    """The one field of a stored run a batch needs (the rest is skipped, not decoded)."""

    finished_at: str | None = None


_ENDED = msgspec.json.Decoder(_Ended)


def check_prune_query(query: PruneQuery) -> None:
    """What ``prune_runs`` refuses whatever the store: a batch of no runs, or a tree
    rooted in a run that has not finished."""
    if query.limit < 1:
        raise ValidationFailed("limit must be at least 1", {"field": "limit"})
    if query.status not in TERMINAL:
        raise ValidationFailed(
            f"status {query.status!r} is not a finished status", {"field": "status"}
        )


def finished_before(data: str | bytes, query: PruneQuery) -> bool:
    """Whether the stored run ``data`` (its JSON) finished before the batch's cutoff."""
    ended = _ENDED.decode(data).finished_at
    return ended is not None and ended < query.finished_before


def whole_trees(rows: Iterable[tuple[str, str, str]], within: set[str] | None = None) -> list[str]:
    """From the ``(root, run id, status)`` rows of some trees, the ids of every run in
    the trees whose runs are all finished (and all ``within``, if given: the runs a
    caller has locked), in the order seen."""
    trees: dict[str, list[str]] = {}
    kept: set[str] = set()
    for root, run_id, status in rows:
        trees.setdefault(root, []).append(run_id)
        if status not in TERMINAL or (within is not None and run_id not in within):
            kept.add(root)
    return [run_id for root, ids in trees.items() if root not in kept for run_id in ids]


def cursor_of(examined: list[str], query: PruneQuery) -> str | None:
    """The batch's ``cursor``: its last (largest) examined id, or None when it examined
    fewer runs than it could (none is left)."""
    return max(examined) if len(examined) >= query.limit else None


def batch_statement(query: PruneQuery, p: str, finished_at: str) -> tuple[str, list[Any]]:
    """The runs one batch examines, for an SQL store with placeholder ``p``, where the
    SQL expression ``finished_at`` reads a run's ``finished_at`` from ``r.data``: rows of
    ``(id, roots a tree to remove)``, by id. A root has no parent, or a parent that is
    gone. The store compares and answers, so the thread that reads the rows handles
    two small values per run (it holds the GIL while it does)."""
    where = [f"r.status = {p}"]
    params: list[Any] = [query.finished_before, query.status]
    for test, value in (
        (f"r.id > {p}", query.after),
        (f"r.id < {p}", query.before_id),
        (f"r.task = {p}", query.task),
    ):
        if value is not None:
            where.append(test)
            params.append(value)
    params.append(query.limit)
    text = (
        "SELECT r.id AS id,"
        f" ((r.parent_id IS NULL OR p.id IS NULL) AND {finished_at} < {p}) AS is_root"
        " FROM runs r LEFT JOIN runs p ON p.id = r.parent_id"
        f" WHERE {' AND '.join(where)} ORDER BY r.id LIMIT {p}"
    )
    return text, params


def roots_of(rows: Iterable[tuple[Any, ...]], query: PruneQuery) -> tuple[list[str], str | None]:
    """From the rows of ``batch_statement``: the roots to remove (if their trees are
    whole) and the batch's cursor."""
    rows = list(rows)
    roots = [run_id for run_id, is_root in rows if is_root]
    return roots, cursor_of([row[0] for row in rows], query)
