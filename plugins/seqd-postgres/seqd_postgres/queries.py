"""The backend's own SQL: what PostgreSQL does apart from the statements every SQL store
shares (``seqd.plugins.storage_kit.sql``, written here with ``%s``), and the columns it
writes from a journal entry or a log line.

Every write is one statement, atomic on its own, so that the writer can send several
in one transaction and a lone one in autocommit mode alike.
"""

# ruff: noqa: S608 -- statements are built from constants and a placeholder, never values

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import msgspec

from seqd.model.runs import NewLogLine, NewStep, Run, Step
from seqd.plugins.storage_kit import sql
from seqd.plugins.storage_kit.records import unnumbered
from seqd.plugins.storage_kit.sql import RUN_COLUMNS, Statements
from seqd_postgres.cluster_sql import FENCE, FENCE_EXISTS

logger = logging.getLogger(__name__)

_ENCODER = msgspec.json.Encoder()
_NEW_STEP_DECODER = msgspec.json.Decoder(NewStep)

# A run write bumps the change counter in the same statement (see schema, version 4).
SQL = Statements(
    "%s",
    position="(SELECT last FROM next_change)",
    prefix="WITH next_change AS (UPDATE run_change_counter SET last = last + 1 RETURNING last) ",
)
# No conflict target: a taken idempotency key and a taken id both insert nothing, and
# the caller then finds out which (ON CONFLICT waits for a concurrent insert of the
# same key to commit, so what it then reads is settled).
# A run's priority has a column of its own here: the claim's order (version 10).
_INSERT = SQL.insert_run.replace("change_seq, id)", "change_seq, id, priority)", 1)[:-1] + ", %s)"
INSERT_RUN = _INSERT + " ON CONFLICT DO NOTHING" + SQL.returning
# A run its submitting node has room for is inserted held by it (``cluster``): no claim.
_HELD = _INSERT.replace("id, priority)", "id, priority, lease_node, lease_epoch)", 1)
INSERT_RUN_HELD = _HELD[:-1] + ", %s, 1) ON CONFLICT DO NOTHING" + SQL.returning
UPDATE_RUN = SQL.update_run + SQL.returning
UPDATE_RUN_CAS = SQL.update_run + " AND status = ANY(%s::text[])" + SQL.returning
# Fenced (``cluster``): only while this node holds the run, under the epoch it claimed.
UPDATE_RUN_FENCED = SQL.update_run + FENCE + SQL.returning
UPDATE_RUN_CAS_FENCED = SQL.update_run + " AND status = ANY(%s::text[])" + FENCE + SQL.returning
RUN_EXISTS = "SELECT 1 FROM runs WHERE id = %s"
RUN_POSITION = "SELECT change_seq, idempotency_key FROM runs WHERE id = %s"
# A batch (``create_runs``): the holders of its keys, then every new run in one
# statement, from one array per column. ON CONFLICT as for one run: a key or an id
# taken meanwhile inserts nothing, and the row count tells.
KEY_HOLDERS = (
    "SELECT idempotency_key, data FROM runs"
    " WHERE idempotency_scope = %s AND idempotency_key = ANY(%s::text[])"
)
_BATCH_COLUMNS = ", ".join((*RUN_COLUMNS, "id", "priority", "change_seq"))
INSERT_RUNS = (
    f"INSERT INTO runs ({_BATCH_COLUMNS}) SELECT * FROM unnest("
    + ", ".join(["%s::text[]"] * (len(RUN_COLUMNS) + 1))
    + ", %s::integer[], %s::bigint[]) ON CONFLICT DO NOTHING"
)
# The batch's change positions, taken at once in its transaction: the counter's row
# stays locked to the commit, so they are in commit order like any run write's.
TAKE_CHANGES = "UPDATE run_change_counter SET last = last + %s RETURNING last"
EXISTING_IDS = "SELECT id FROM runs WHERE id = ANY(%s::text[])"
CHILDREN_OF = SQL.children_of.format(among="= ANY(%s::text[])")
UNFINISHED = "SELECT data FROM runs WHERE status = ANY(%s::text[]) ORDER BY id"


def _numbered_append(
    counters: str, table: str, columns: tuple[str, ...], arrays: str, fenced: bool = False
) -> str:
    """The one statement of a log (or journal) append: bump (or start) the run's counter
    in ``counters``, number the ``n`` entries after it, insert them all into ``table``
    (``columns`` from the parallel ``arrays``), and return the last seq. Concurrent
    appenders to one run queue on the counter's row lock. ``fenced``: only while the
    run is held by ``%(node)s`` under ``%(epoch)s``; else nothing, and no row."""
    names = ", ".join(columns)
    values = ", ".join(f"entry.{column}" for column in columns)
    fence = f" WHERE {FENCE_EXISTS}" if fenced else ""
    return f"""
WITH counter AS (
    INSERT INTO {counters} AS s (run_id, last_seq) SELECT %(run)s, %(n)s{fence}
    ON CONFLICT (run_id) DO UPDATE SET last_seq = s.last_seq + EXCLUDED.last_seq
    RETURNING last_seq
), added AS (
    INSERT INTO {table} (run_id, seq, {names})
    SELECT %(run)s, counter.last_seq - %(n)s + entry.n, {values}
    FROM counter, unnest({arrays}) WITH ORDINALITY AS entry ({names}, n)
)
SELECT last_seq FROM counter
"""


_LOG_ARRAYS = "%(ts)s::text[], %(streams)s::text[], %(texts)s::text[]"
APPEND_LOGS = _numbered_append("log_seqs", "logs", ("ts", "stream", "text"), _LOG_ARRAYS)
APPEND_LOGS_FENCED = _numbered_append(
    "log_seqs", "logs", ("ts", "stream", "text"), _LOG_ARRAYS, fenced=True
)
LAST_SEQ = "SELECT last_seq FROM log_seqs WHERE run_id = %s"
# The journal: numbered exactly like logs, one statement per append.
APPEND_STEPS = _numbered_append("step_seqs", "steps", ("data",), "%(data)s::text[]")
APPEND_STEPS_FENCED = _numbered_append(
    "step_seqs", "steps", ("data",), "%(data)s::text[]", fenced=True
)
LAST_STEP = "SELECT last_seq FROM step_seqs WHERE run_id = %s"
STEPS_TAIL = "SELECT seq, data FROM steps WHERE run_id = %s ORDER BY seq DESC LIMIT %s"
READ_STEPS = "SELECT seq, data FROM steps WHERE run_id = %s AND seq > %s ORDER BY seq LIMIT %s"


def run_row(run: Run) -> tuple[Any, ...]:
    """``INSERT_RUN``'s parameters (and a row of ``INSERT_RUNS``): the shared columns,
    the id, then the priority."""
    return (*sql.run_row(run), run.priority)


def columns_of(rows: list[tuple[Any, ...]]) -> list[list[Any]]:
    """``INSERT_RUNS``'s parameters: one array per column of ``run_row``'s rows."""
    return [list(column) for column in zip(*rows, strict=True)]


def log_text(value: str) -> str:
    """PostgreSQL text cannot hold NUL; a log line may. Keep the rest of the line."""
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def log_params(run_id: str, lines: Sequence[NewLogLine]) -> dict[str, Any]:
    """``APPEND_LOGS``'s parameters: one array per column."""
    return {
        "run": run_id,
        "n": len(lines),
        "ts": [line.ts for line in lines],
        "streams": [line.stream for line in lines],
        "texts": [log_text(line.text) for line in lines],
    }


def step_params(run_id: str, steps: Sequence[NewStep]) -> dict[str, Any]:
    """``APPEND_STEPS``'s parameters."""
    return {"run": run_id, "n": len(steps), "data": [step_data(s) for s in steps]}


def step_data(step: NewStep) -> str:
    """A journal entry's ``data`` column: the entry without its seq (the seq column)."""
    return _ENCODER.encode(unnumbered(step)).decode()


def step_of(seq: int, data: str) -> Step:
    """A journal row back as the ``Step`` it was appended as, numbered ``seq``."""
    return Step(seq=seq, **msgspec.structs.asdict(_NEW_STEP_DECODER.decode(data)))
