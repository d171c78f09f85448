"""What the SQLite store does for a batch of runs and for the family of a run: inserting
many runs in one transaction (``create_runs``), and counting children per parent.

Its own module because a batch is one op of the writer that does more than one
statement — find the holders of the batch's idempotency keys, then insert every new
run — and because ``IN`` lists must be cut to stay within SQLite's limit on bound
parameters, which both of these need.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from seqd.builtin.storage.sqlite.positions import Positions
from seqd.model.runs import Run
from seqd.plugins.storage_kit.batches import check_keys, id_taken, key_scope, plan
from seqd.plugins.storage_kit.sql import RUN_DECODER, Statements, counts_of, run_row

T = TypeVar("T")

CHUNK = 500
"""Ids or keys per ``IN (...)`` list: well within SQLite's limit on parameters."""

_SQL = Statements("?", position="?")
_HOLDERS = (
    "SELECT idempotency_key, data FROM runs WHERE idempotency_scope = ? AND idempotency_key IN ({})"
)
_EXISTING = "SELECT id FROM runs WHERE id IN ({})"


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _among(n: int) -> str:
    return ", ".join("?" * n)


def create_runs_op(
    runs: Sequence[Run], positions: Positions
) -> Callable[[sqlite3.Connection], list[tuple[Run, int]]]:
    """The writer op that inserts ``runs`` all or none (``StorageBackend.create_runs``),
    each with the next change position (``positions``); it runs in the writer's
    transaction, inside its own savepoint, so a failure leaves nothing of it behind.
    Refuses a key given twice before anything is queued."""
    keys = check_keys(runs)
    scope = key_scope(runs)

    def op(conn: sqlite3.Connection) -> list[tuple[Run, int]]:
        holders: dict[str, Run] = {}
        for part in _chunks(keys):
            query = _HOLDERS.format(_among(len(part)))
            for key, data in conn.execute(query, (scope, *part)):
                holders[key] = RUN_DECODER.decode(data)
        answer, fresh = plan(runs, holders)
        conn.execute("SAVEPOINT batch")  # to look for the taken id without the inserts
        written: dict[str, int] = {}
        try:
            for run in fresh:
                written[run.id] = positions.write(conn, _SQL.insert_run, run_row(run))
        except sqlite3.IntegrityError as exc:
            conn.execute("ROLLBACK TO batch")
            ids = [run.id for run in fresh]
            stored: set[str] = set()
            for part in _chunks(ids):
                stored.update(
                    row[0] for row in conn.execute(_EXISTING.format(_among(len(part))), part)
                )
            raise id_taken(fresh, stored) from exc
        finally:
            conn.execute("RELEASE batch")
        return [(run, written[run.id] if created else 0) for run, created in answer]

    return op


def count_children(conn: sqlite3.Connection, run_ids: Sequence[str]) -> dict[str, int]:
    """Children per parent among ``run_ids`` (a reader's call), an ``IN`` list at a
    time: each is a walk of the ``runs_parent_id`` index."""
    found: dict[str, int] = {}
    for part in _chunks(run_ids):
        query = _SQL.children_of.format(among=f"IN ({_among(len(part))})")
        found.update(counts_of(conn.execute(query, part).fetchall()))
    return found
