"""The backend's SQL, and the parameters it takes from a Run.

Every write is one statement, atomic on its own, so that the writer can send several
in one transaction and a lone one in autocommit mode alike.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from seqd.model.runs import NewStep, Run, Step
from seqd.plugins.storage import unnumbered

logger = logging.getLogger(__name__)

_ENCODER = msgspec.json.Encoder()
RUN_DECODER = msgspec.json.Decoder(Run)
_NEW_STEP_DECODER = msgspec.json.Decoder(NewStep)

# No conflict target: a taken idempotency key and a taken id both insert nothing, and
# the caller then finds out which (ON CONFLICT waits for a concurrent insert of the
# same key to commit, so what it then reads is settled).
INSERT_RUN = (
    "INSERT INTO runs (id, task, status, parent_id, root_id, idempotency_key, created_at,"
    " data) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
)
UPDATE_RUN = (
    "UPDATE runs SET task = %s, status = %s, parent_id = %s, root_id = %s,"
    " idempotency_key = %s, created_at = %s, data = %s WHERE id = %s"
)
UPDATE_RUN_CAS = UPDATE_RUN + " AND status = ANY(%s::text[])"
BY_KEY = "SELECT data FROM runs WHERE idempotency_key = %s"
GET_RUN = "SELECT data FROM runs WHERE id = %s"
RUN_EXISTS = "SELECT 1 FROM runs WHERE id = %s"
COUNT = "SELECT status, count(*) FROM runs GROUP BY status"
UNFINISHED = "SELECT data FROM runs WHERE status = ANY(%s::text[]) ORDER BY id"
# Bump (or start) the run's counter, number the lines after it, insert them all.
APPEND_LOGS = """
WITH counter AS (
    INSERT INTO log_seqs AS s (run_id, last_seq) VALUES (%(run)s, %(n)s)
    ON CONFLICT (run_id) DO UPDATE SET last_seq = s.last_seq + EXCLUDED.last_seq
    RETURNING last_seq
), added AS (
    INSERT INTO logs (run_id, seq, ts, stream, text)
    SELECT %(run)s, counter.last_seq - %(n)s + line.n, line.ts, line.stream, line.text
    FROM counter,
        unnest(%(ts)s::text[], %(streams)s::text[], %(texts)s::text[])
        WITH ORDINALITY AS line (ts, stream, text, n)
)
SELECT last_seq FROM counter
"""
LAST_SEQ = "SELECT last_seq FROM log_seqs WHERE run_id = %s"
READ_LOGS = (
    "SELECT seq, ts, stream, text FROM logs WHERE run_id = %s AND seq > %s ORDER BY seq LIMIT %s"
)

# The journal: numbered exactly like logs (see APPEND_LOGS), one statement per append.
APPEND_STEPS = """
WITH counter AS (
    INSERT INTO step_seqs AS s (run_id, last_seq) VALUES (%(run)s, %(n)s)
    ON CONFLICT (run_id) DO UPDATE SET last_seq = s.last_seq + EXCLUDED.last_seq
    RETURNING last_seq
), added AS (
    INSERT INTO steps (run_id, seq, data)
    SELECT %(run)s, counter.last_seq - %(n)s + step.n, step.data
    FROM counter, unnest(%(data)s::text[]) WITH ORDINALITY AS step (data, n)
)
SELECT last_seq FROM counter
"""
LAST_STEP = "SELECT last_seq FROM step_seqs WHERE run_id = %s"
READ_STEPS = "SELECT seq, data FROM steps WHERE run_id = %s AND seq > %s ORDER BY seq LIMIT %s"
KV_GET = "SELECT value, updated_at FROM kv WHERE namespace = %s AND key = %s"
KV_NAMESPACES = "SELECT DISTINCT namespace FROM kv ORDER BY namespace"
KV_SET = (
    "INSERT INTO kv (namespace, key, value, updated_at) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (namespace, key) DO UPDATE SET value = EXCLUDED.value,"
    " updated_at = EXCLUDED.updated_at"
)
KV_DELETE = "DELETE FROM kv WHERE namespace = %s AND key = %s"
KV_LIST_FROM = (
    "SELECT key, value, updated_at FROM kv WHERE namespace = %s AND key >= %s ORDER BY key LIMIT %s"
)
KV_LIST_AFTER = (
    "SELECT key, value, updated_at FROM kv WHERE namespace = %s AND key > %s ORDER BY key LIMIT %s"
)


def insert_params(run: Run) -> tuple[Any, ...]:
    """Parameters for INSERT_RUN (id first)."""
    return (
        run.id, run.task, run.status, run.parent_id, run.root_id, run.idempotency_key,
        run.created_at, _ENCODER.encode(run).decode(),
    )  # fmt: skip


def update_params(run: Run) -> tuple[Any, ...]:
    """Parameters for UPDATE_RUN (id last)."""
    return (*insert_params(run)[1:], run.id)


def log_text(value: str) -> str:
    """PostgreSQL text cannot hold NUL; a log line may. Keep the rest of the line."""
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def step_data(step: NewStep) -> str:
    """A journal entry's ``data`` column: the entry without its seq (the seq column)."""
    return _ENCODER.encode(unnumbered(step)).decode()


def step_of(seq: int, data: str) -> Step:
    """A journal row back as the ``Step`` it was appended as, numbered ``seq``."""
    return Step(seq=seq, **msgspec.structs.asdict(_NEW_STEP_DECODER.decode(data)))


def json_text(value: Any) -> str:
    """A JSON value as text for a ``text`` column. msgspec writes a NUL inside a string
    as the escape ``\\u0000``, so the text itself never holds NUL."""
    return _ENCODER.encode(value).decode()
