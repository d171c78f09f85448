"""Versioned schema of the SQLite store.

``PRAGMA user_version`` holds the version of the schema in the file. ``MIGRATIONS`` is
an ordered tuple; at open every pending step runs inside one ``BEGIN IMMEDIATE``
transaction (so two daemons opening the same file cannot both migrate, and a failed
step leaves the file exactly as it was). A file written by a newer seqd is refused
rather than guessed at (``seqd.plugins.storage_kit.schema``: the rules every store's
migrations follow). To evolve the schema, append a ``Migration`` — never edit one
that has shipped. Each step gets a ``sqlite_utils.Database`` for its helpers
(``add_column``, ``transform``, ``create_table``) or plain ``execute``.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from seqd.plugins.storage_kit.schema import checked_version, latest_version
from seqd.plugins.storage_kit.sql import scope_migration

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Any], None]
    """Called with a ``sqlite_utils.Database`` on the open transaction."""


def _v1_runs_and_logs(db: Any) -> None:
    # Plain DDL here: WITHOUT ROWID and partial indexes are beyond sqlite-utils' helpers.
    # ``data`` is the whole Run as msgspec JSON (the source of truth); the other
    # columns are copies that exist only to be indexed.
    db.execute(
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY NOT NULL,
            task TEXT NOT NULL,
            status TEXT NOT NULL,
            parent_id TEXT,
            root_id TEXT,
            idempotency_key TEXT,
            created_at TEXT NOT NULL,
            data TEXT NOT NULL
        )
        """
    )
    # Each list filter is an index ending in id, so "filter + newest first + id < cursor"
    # is one index range walked backwards: cost independent of history size.
    db.execute("CREATE INDEX runs_task_id ON runs (task, id)")
    db.execute("CREATE INDEX runs_status_id ON runs (status, id)")
    db.execute("CREATE INDEX runs_parent_id ON runs (parent_id, id) WHERE parent_id IS NOT NULL")
    db.execute(
        "CREATE UNIQUE INDEX runs_idempotency_key ON runs (idempotency_key)"
        " WHERE idempotency_key IS NOT NULL"
    )
    # Clustered by (run_id, seq): a run's lines sit together and "last seq" is one seek.
    db.execute(
        """
        CREATE TABLE logs (
            run_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            ts TEXT NOT NULL,
            stream TEXT NOT NULL,
            text TEXT NOT NULL,
            PRIMARY KEY (run_id, seq)
        ) WITHOUT ROWID
        """
    )


def _v2_steps(db: Any) -> None:
    # The run journal. ``data`` is the whole Step as msgspec JSON; clustered like logs.
    db.execute(
        """
        CREATE TABLE steps (
            run_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (run_id, seq)
        ) WITHOUT ROWID
        """
    )


def _v3_kv(db: Any) -> None:
    # The kv.* tools' state: one row per (namespace, key), clustered so that a
    # namespace's keys sit together in key order (prefix listing is one range scan).
    # ``value`` is the JSON text of the value.
    db.execute(
        """
        CREATE TABLE kv (
            namespace TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (namespace, key)
        ) WITHOUT ROWID
        """
    )


def _v4_alert_events(db: Any) -> None:
    # Alert history: one row per state change. AUTOINCREMENT so that a seq is never
    # handed out twice, even after the newest rows were deleted. ``data`` is the whole
    # event as JSON (without its seq); ``rule`` is a copy for the per-rule index.
    db.execute(
        """
        CREATE TABLE alert_events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            rule TEXT NOT NULL,
            data TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX alert_events_rule_seq ON alert_events (rule, seq)")


def _v5_schedules(db: Any) -> None:
    # Runs say which schedule started them; a schedule's history is "runs of schedule S,
    # newest first", one index range like the other list filters. Older runs have none.
    db.execute("ALTER TABLE runs ADD COLUMN schedule TEXT")
    db.execute("CREATE INDEX runs_schedule_id ON runs (schedule, id) WHERE schedule IS NOT NULL")
    # ``data`` is the whole Schedule as msgspec JSON (definition and cursor).
    db.execute(
        """
        CREATE TABLE schedules (
            name TEXT PRIMARY KEY NOT NULL,
            data TEXT NOT NULL
        ) WITHOUT ROWID
        """
    )


def _v6_roots(db: Any) -> None:
    # ``runs.list`` shows runs without a parent by default: their own index, so that a
    # page of roots never walks past the children of big flows.
    db.execute("CREATE INDEX runs_roots ON runs (id) WHERE parent_id IS NULL")


def _v7_idempotency_scopes(db: Any) -> None:
    for statement in scope_migration("json_extract(data, '$.submitted_by')"):
        db.execute(statement)


def _v8_run_changes(db: Any) -> None:
    # Every run write sets ``change_seq`` to the store's next change position (see
    # ``positions``), so "runs changed after P" is one range of this unique index:
    # events replay from it (a tree's runs are found through runs_parent_id). Runs
    # already stored are numbered in id (creation) order.
    db.execute("ALTER TABLE runs ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0")
    db.execute(
        "UPDATE runs SET change_seq = numbered.n FROM"
        " (SELECT id, row_number() OVER (ORDER BY id) AS n FROM runs) AS numbered"
        " WHERE runs.id = numbered.id"
    )
    db.execute("CREATE UNIQUE INDEX runs_change ON runs (change_seq)")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "runs and logs", _v1_runs_and_logs),
    Migration(2, "run journal (steps)", _v2_steps),
    Migration(3, "key-value state", _v3_kv),
    Migration(4, "alert history", _v4_alert_events),
    Migration(5, "schedules, and the schedule of each run", _v5_schedules),
    Migration(6, "index of root runs", _v6_roots),
    Migration(7, "idempotency keys per scope", _v7_idempotency_scopes),
    Migration(8, "run change positions", _v8_run_changes),
)
LATEST = MIGRATIONS[-1].version


def schema_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def _checked(version: int, latest: int, where: str) -> int:
    return checked_version(version, latest, where, "point it at another database file")


def migrate(
    conn: sqlite3.Connection,
    migrations: Sequence[Migration] = MIGRATIONS,
    where: str = "the database",
) -> int:
    """Apply every pending migration in one transaction; return the resulting version.

    ``conn`` must be in autocommit mode (``isolation_level=None``). Raises
    ``SchemaTooNew`` for a file from a newer seqd.
    """
    latest = latest_version(migrations)
    if _checked(schema_version(conn), latest, where) == latest:
        return latest  # the usual case: no write lock taken
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Read again under the write lock: another process may have just migrated.
        version = _checked(schema_version(conn), latest, where)
        db = sqlite_utils.Database(conn, execute_plugins=False)
        for step in migrations:
            if step.version > version:
                logger.info("migrating %s to version %d: %s", where, step.version, step.description)
                step.apply(db)
                conn.execute(f"PRAGMA user_version = {int(step.version)}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return latest
