"""What the SQLite store does for ``import_run``: a run, its log and its journal as one
writer op, so one savepoint of one transaction holds all of them (``seqd import``
needs a run to be there whole or not at all).

Its own module, like ``batches``, because the op is more than one statement: the
idempotency key's holder is looked for, then the run, its lines and its entries go in.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

import msgspec

from seqd.builtin.storage.sqlite.positions import Positions
from seqd.model.runs import NewLogLine, NewStep, Run
from seqd.plugins.storage_kit.records import check_run_key, number_steps
from seqd.plugins.storage_kit.sql import Statements, run_row

INSERT_LOG = "INSERT INTO logs (run_id, seq, ts, stream, text) VALUES (?, ?, ?, ?, ?)"
INSERT_STEP = "INSERT INTO steps (run_id, seq, data) VALUES (?, ?, ?)"
_SQL = Statements("?", position="?")
_ENCODER = msgspec.json.Encoder()


def import_run_op(
    run: Run, logs: Sequence[NewLogLine], steps: Sequence[NewStep], positions: Positions
) -> Callable[[sqlite3.Connection], bool]:
    """The writer op of ``StorageBackend.import_run``: False, having written nothing,
    when the run's id or key is taken. The writer wraps it in a savepoint, so a failure
    half-way leaves nothing of it behind."""
    check_run_key(run)
    row = run_row(run)

    def op(conn: sqlite3.Connection) -> bool:
        if run.idempotency_key is not None:
            key = (run.idempotency_scope, run.idempotency_key)
            if conn.execute(_SQL.run_by_key, key).fetchall():
                return False
        try:
            positions.write(conn, _SQL.insert_run, row)
        except sqlite3.IntegrityError:
            return False  # the id is taken (the key was looked for above)
        conn.executemany(
            INSERT_LOG,
            [(run.id, seq, ln.ts, ln.stream, ln.text) for seq, ln in enumerate(logs, 1)],
        )
        conn.executemany(
            INSERT_STEP,
            [(run.id, s.seq, _ENCODER.encode(s).decode()) for s in number_steps(0, steps)],
        )
        return True

    return op
