"""Versioned schema of the PostgreSQL store.

``schema_migrations`` (in the configured schema) lists the versions applied. At open,
every pending step runs in one transaction that first takes a transaction-scoped
advisory lock keyed on the schema name: several nodes opening the same store at once
queue up, and the first one migrates while the others then find nothing to do. A failed
step rolls the whole transaction back. A store written by a newer seqd is refused
rather than guessed at (``seqd.plugins.storage_kit.schema``: the rules every store's
migrations follow). To evolve the schema, append a ``Migration``; never edit one
that has shipped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection, sql

from seqd.plugins.storage_kit.schema import checked_version, latest_version
from seqd.plugins.storage_kit.sql import scope_migration
from seqd_postgres import transitions

logger = logging.getLogger(__name__)

LOCK_CLASS = 0x5E9D
"""First key of ``pg_advisory_xact_lock(int, int)``; the second is the schema's hash."""


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]
    """Plain SQL, run in order with the store's schema first on the search_path."""


# Ids, tasks and statuses compare bytewise (COLLATE "C"), as in SQLite: newest-first
# order and ``id < cursor`` must not depend on the server's locale. ``data`` is the
# whole Run as msgspec JSON text, the source of truth (jsonb would refuse the \u0000 a
# run's input may hold); the other columns are copies that exist to be indexed.
_V1 = (
    """
    CREATE TABLE runs (
        id text COLLATE "C" PRIMARY KEY,
        task text COLLATE "C" NOT NULL,
        status text COLLATE "C" NOT NULL,
        parent_id text COLLATE "C",
        root_id text COLLATE "C",
        idempotency_key text COLLATE "C",
        created_at text NOT NULL,
        data text NOT NULL
    )
    """,
    # Each list filter is an index ending in id: "filter + newest first + id < cursor"
    # is one index range walked backwards, whatever the size of the history.
    "CREATE INDEX runs_task_id ON runs (task, id)",
    "CREATE INDEX runs_status_id ON runs (status, id)",
    "CREATE INDEX runs_parent_id ON runs (parent_id, id) WHERE parent_id IS NOT NULL",
    "CREATE UNIQUE INDEX runs_idempotency_key ON runs (idempotency_key)"
    " WHERE idempotency_key IS NOT NULL",
    # The last seq per run, bumped by an upsert: concurrent appenders to one run queue
    # on its row lock, and a run need not exist to have a log (as in SQLite).
    """
    CREATE TABLE log_seqs (
        run_id text COLLATE "C" PRIMARY KEY,
        last_seq bigint NOT NULL
    )
    """,
    """
    CREATE TABLE logs (
        run_id text COLLATE "C" NOT NULL,
        seq bigint NOT NULL,
        ts text NOT NULL,
        stream text NOT NULL,
        text text NOT NULL,
        PRIMARY KEY (run_id, seq)
    )
    """,
)

# The run journal, kept like logs: a per-run counter bumped by an upsert numbers the
# entries (concurrent appenders queue on its row lock), and ``data`` is the entry as
# msgspec JSON text without its seq (text, not jsonb: an output may hold \u0000).
_V2_STEPS = (
    """
    CREATE TABLE step_seqs (
        run_id text COLLATE "C" PRIMARY KEY,
        last_seq bigint NOT NULL
    )
    """,
    """
    CREATE TABLE steps (
        run_id text COLLATE "C" NOT NULL,
        seq bigint NOT NULL,
        data text NOT NULL,
        PRIMARY KEY (run_id, seq)
    )
    """,
)

# The kv.* tools' state. ``value`` is JSON text, like ``runs.data``; keys compare
# bytewise so that prefix listing follows code point order, as in SQLite.
_V3_KV = (
    """
    CREATE TABLE kv (
        namespace text COLLATE "C" NOT NULL,
        key text COLLATE "C" NOT NULL,
        value text NOT NULL,
        updated_at text NOT NULL,
        PRIMARY KEY (namespace, key)
    )
    """,
)

# Alert history: one row per state change, numbered by an identity column (a seq is
# never handed out twice). ``data`` is the whole event as JSON text, without its seq.
_V4_ALERTS = (
    """
    CREATE TABLE alert_events (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        rule text COLLATE "C" NOT NULL,
        data text NOT NULL
    )
    """,
    "CREATE INDEX alert_events_rule_seq ON alert_events (rule, seq)",
)

# Runs say which schedule started them (a schedule's history is one index range, like
# the other list filters); schedules are one row each, ``data`` the whole record as
# JSON text (definition and cursor). Several nodes may share them: a fire's run is
# made with an idempotency key, so two nodes cannot both fire it.
_V5_SCHEDULES = (
    'ALTER TABLE runs ADD COLUMN schedule text COLLATE "C"',
    "CREATE INDEX runs_schedule_id ON runs (schedule, id) WHERE schedule IS NOT NULL",
    """
    CREATE TABLE schedules (
        name text COLLATE "C" PRIMARY KEY,
        data text NOT NULL
    )
    """,
)

# ``runs.list`` shows runs without a parent by default: their own index, so that a page
# of roots never walks past the children of big flows.
_V6_ROOTS = ("CREATE INDEX runs_roots ON runs (id) WHERE parent_id IS NULL",)

# Idempotency keys unique per scope (seqd.model.scopes). ``data`` is read as ``json``
# (not jsonb, which would refuse a \u0000 elsewhere in the run) for the submitter.
_V7_SCOPES = tuple(scope_migration("(data::json ->> 'submitted_by')"))

# Change positions: every run write sets ``change_seq`` to the next value of a one-row
# counter bumped in the same transaction. Its row lock is held until the commit, so run
# writes (of every node on the store) commit in position order: a reader that sees
# position P has seen every write before it, which a sequence would not promise. Runs
# already stored are numbered in id (creation) order.
_V8_CHANGES = (
    "ALTER TABLE runs ADD COLUMN change_seq bigint NOT NULL DEFAULT 0",
    """
    UPDATE runs SET change_seq = numbered.n
    FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM runs) AS numbered
    WHERE runs.id = numbered.id
    """,
    """
    CREATE TABLE run_change_counter (
        one boolean PRIMARY KEY DEFAULT true CHECK (one),
        last bigint NOT NULL
    )
    """,
    "INSERT INTO run_change_counter (last) SELECT coalesce(max(change_seq), 0) FROM runs",
    "CREATE UNIQUE INDEX runs_change ON runs (change_seq)",
)

# Several nodes share one queue (``cluster``): a node row per live daemon, renewed by its
# heartbeat, and on each run the node holding it with the epoch of that hold. A claim
# or a takeover bumps the epoch, and every write of a held run checks node and epoch
# (fencing), so a node that lost a run can no longer write it. The partial indexes are
# what the claim (oldest unheld queued runs) and the takeover (a dead node's runs) walk.
_V9_NODES = (
    """
    CREATE TABLE nodes (
        id text COLLATE "C" PRIMARY KEY,
        data text NOT NULL,
        heartbeat_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL
    )
    """,
    'ALTER TABLE runs ADD COLUMN lease_node text COLLATE "C"',
    "ALTER TABLE runs ADD COLUMN lease_epoch bigint NOT NULL DEFAULT 0",
    "CREATE INDEX runs_unheld ON runs (id) WHERE status = 'queued' AND lease_node IS NULL",
    "CREATE INDEX runs_held ON runs (lease_node) WHERE lease_node IS NOT NULL"
    " AND status IN ('queued', 'running', 'suspended')",
)

# Claims take the highest priority first, then the oldest: the priority is a column
# (written at insert; a run's priority never changes), and the unheld-queue index is
# ordered as the claim walks it, so a claim reads its rows from the index's start.
# Only queued runs are given their priority from ``data``: no other run is claimed.
# A run's input may hold an escaped NUL, which ``->>`` refuses: each ``\u0000`` is read
# as ``\u0001`` (same length and shape, so the JSON stays valid; only text changes).
_PRIORITY_IN_DATA = r"(replace(data, E'\\u0000', E'\\u0001')::json ->> 'priority')"
_V10_PRIORITY = (
    "ALTER TABLE runs ADD COLUMN priority integer NOT NULL DEFAULT 0",
    f"UPDATE runs SET priority = {_PRIORITY_IN_DATA}::integer"  # noqa: S608 -- constants
    f" WHERE status = 'queued' AND {_PRIORITY_IN_DATA} IS NOT NULL",
    "DROP INDEX runs_unheld",
    "CREATE INDEX runs_unheld ON runs (priority DESC, id)"
    " WHERE status = 'queued' AND lease_node IS NULL",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "runs and logs", _V1),
    Migration(2, "run journal (steps)", _V2_STEPS),
    Migration(3, "key-value state", _V3_KV),
    Migration(4, "alert history", _V4_ALERTS),
    Migration(5, "schedules, and the schedule of each run", _V5_SCHEDULES),
    Migration(6, "index of root runs", _V6_ROOTS),
    Migration(7, "idempotency keys per scope", _V7_SCOPES),
    Migration(8, "run change positions", _V8_CHANGES),
    Migration(9, "nodes and run leases", _V9_NODES),
    Migration(10, "run priority for claims", _V10_PRIORITY),
    Migration(11, "every run write, for the nodes' event feeds", transitions.MIGRATION),
)
LATEST = MIGRATIONS[-1].version


async def _one(conn: AsyncConnection[Any], query: sql.Composed | str, *params: Any) -> Any:
    cur = await conn.execute(query, params or None)
    row = await cur.fetchone()
    return None if row is None else row[0]


async def schema_version(conn: AsyncConnection[Any], schema: str) -> int:
    """The version recorded in ``schema``; 0 when it has no migrations table yet."""
    table = f"{sql.Identifier(schema).as_string(conn)}.schema_migrations"
    if await _one(conn, "SELECT to_regclass(%s)", table) is None:
        return 0
    query = sql.SQL("SELECT coalesce(max(version), 0) FROM {}.schema_migrations").format(
        sql.Identifier(schema)
    )
    return int(await _one(conn, query))


def _checked(version: int, latest: int, where: str) -> int:
    return checked_version(version, latest, where, "use another schema (backends.postgres.schema)")


async def migrate(
    conn: AsyncConnection[Any],
    schema: str,
    migrations: Sequence[Migration] = MIGRATIONS,
    where: str = "the database",
) -> int:
    """Create ``schema`` if missing and apply every pending migration, in one
    transaction under the schema's advisory lock; return the resulting version.

    ``conn`` must be in autocommit mode. Raises ``SchemaTooNew`` for a store from a
    newer seqd, before changing anything.
    """
    latest = latest_version(migrations)
    ident = sql.Identifier(schema)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (LOCK_CLASS, schema))
        # Read under the lock: another node may have just migrated. Existence is
        # checked first so that a role without CREATE on the database can still open
        # a store someone else set up.
        if await _one(conn, "SELECT 1 FROM pg_namespace WHERE nspname = %s", schema) is None:
            logger.info("creating schema %s in %s", schema, where)
            await conn.execute(sql.SQL("CREATE SCHEMA {}").format(ident))
        version = _checked(await schema_version(conn, schema), latest, where)
        if version == latest:
            return latest
        await conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(ident))
        if version == 0:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY,"
                " description text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
        for step in migrations:
            if step.version <= version:
                continue
            logger.info(
                "migrating %s (schema %s) to version %d: %s",
                where,
                schema,
                step.version,
                step.description,
            )
            for statement in step.statements:
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_migrations (version, description) VALUES (%s, %s)",
                (step.version, step.description),
            )
    return latest
