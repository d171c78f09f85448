"""What SQL backends share: the statements on the common tables, for any placeholder
style, and how their rows become records.

Its own module because the SQLite and PostgreSQL stores have the same ``runs``,
``logs``, ``kv`` and ``schedules`` tables (columns, meaning and order: ids, tasks and
keys compare as bytes in both), so the statements on them and the reading of their
rows are one piece of code; what differs (how a journal or a log is numbered, arrays
against ``IN`` lists) stays in each backend. ``data`` in ``runs`` is the whole ``Run``
as msgspec JSON, the source of truth; the other columns are copies that exist to be
indexed.
"""

# ruff: noqa: S608 -- statements are built from constants and a placeholder, never values

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from seqd.model.runs import KVEntry, LogLine, Run, RunChange, RunQuery
from seqd.plugins.storage_kit.records import check_run_query, kv_page, kv_start, prefix_bounds

_ENCODER = msgspec.json.Encoder()
RUN_DECODER = msgspec.json.Decoder(Run)

RUN_COLUMNS = (
    "task", "status", "parent_id", "root_id", "idempotency_key", "created_at", "data", "schedule",
    "idempotency_scope",
)  # fmt: skip
"""The columns of ``runs`` besides ``id``, in the order of ``run_row``."""

Row = Any  # a sequence of column values, as the driver returns it


def run_row(run: Run) -> tuple[Any, ...]:
    """Parameters of ``insert_run`` and ``update_run``: ``RUN_COLUMNS``, then the id
    (``change_seq`` is the store's to set)."""
    return (
        run.task, run.status, run.parent_id, run.root_id, run.idempotency_key,
        run.created_at, _ENCODER.encode(run).decode(), run.schedule, run.idempotency_scope,
        run.id,
    )  # fmt: skip


class Statements:
    """The shared statements written with ``placeholder`` (``?`` or ``%s``).

    A run write also sets ``change_seq``, the store's change position, to ``position``:
    an SQL expression worth the next one (a store's own way to number its writes in
    commit order), after ``prefix`` (say a ``WITH`` clause it reads). ``insert_run``
    and ``update_run`` end before their ``RETURNING change_seq`` (``returning``), so
    that a caller can add conditions."""

    def __init__(self, placeholder: str, position: str = "0", prefix: str = "") -> None:
        p = self.placeholder = placeholder
        columns = ", ".join(RUN_COLUMNS)
        values = ", ".join([p] * len(RUN_COLUMNS))
        assignments = ", ".join(f"{column} = {p}" for column in RUN_COLUMNS)
        self.insert_run = (
            f"{prefix}INSERT INTO runs ({columns}, change_seq, id)"
            f" VALUES ({values}, {position}, {p})"
        )
        self.update_run = (
            f"{prefix}UPDATE runs SET {assignments}, change_seq = {position} WHERE id = {p}"
        )
        self.returning = " RETURNING change_seq"
        """What a store that computes ``position`` in SQL adds to learn it."""
        self.run_changes = (
            f"SELECT change_seq, data FROM runs WHERE change_seq > {p}"
            f" ORDER BY change_seq LIMIT {p}"
        )
        # A run and every run under it, by parent_id (through runs_parent_id).
        self.tree_changes = (
            "WITH RECURSIVE tree(id) AS ("
            f" SELECT id FROM runs WHERE id = {p}"
            " UNION ALL SELECT runs.id FROM runs JOIN tree ON runs.parent_id = tree.id)"
            " SELECT change_seq, data FROM runs"
            f" WHERE id IN (SELECT id FROM tree) AND change_seq > {p}"
            f" ORDER BY change_seq LIMIT {p}"
        )
        self.last_change = "SELECT coalesce(max(change_seq), 0) FROM runs"
        self.run_by_key = (
            f"SELECT data FROM runs WHERE idempotency_scope = {p} AND idempotency_key = {p}"
        )
        self.get_run = f"SELECT data FROM runs WHERE id = {p}"
        self.count_by_status = "SELECT status, count(*) FROM runs GROUP BY status"
        self._runs_by_prefix = (
            f"SELECT data FROM runs WHERE id >= {p} AND id < {p} ORDER BY id DESC LIMIT {p}"
        )
        self.children_of = "SELECT parent_id, count(*) FROM runs WHERE parent_id {among}"
        self.children_of += " GROUP BY parent_id"
        self.read_logs = (
            f"SELECT seq, ts, stream, text FROM logs WHERE run_id = {p} AND seq > {p}"
            f" ORDER BY seq LIMIT {p}"
        )
        self.kv_get = f"SELECT value, updated_at FROM kv WHERE namespace = {p} AND key = {p}"
        self.kv_set = (
            f"INSERT INTO kv (namespace, key, value, updated_at) VALUES ({p}, {p}, {p}, {p})"
            " ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at"
        )
        self.kv_delete = f"DELETE FROM kv WHERE namespace = {p} AND key = {p}"
        self.kv_namespaces = "SELECT DISTINCT namespace FROM kv ORDER BY namespace"
        self.save_schedule = (
            f"INSERT INTO schedules (name, data) VALUES ({p}, {p})"
            " ON CONFLICT (name) DO UPDATE SET data = excluded.data"
        )
        self.get_schedule = f"SELECT data FROM schedules WHERE name = {p}"
        self.list_schedules = "SELECT data FROM schedules ORDER BY name"
        self.delete_schedule = f"DELETE FROM schedules WHERE name = {p}"
        kv_scan = "SELECT key, value, updated_at FROM kv WHERE namespace = {p} AND key {op} {p}"
        kv_scan += " ORDER BY key LIMIT {p}"
        self._kv_from = kv_scan.format(p=p, op=">=")
        self._kv_after = kv_scan.format(p=p, op=">")

    def list_runs(self, query: RunQuery) -> tuple[str, list[Any]]:
        """``SELECT data FROM runs`` for ``query``, newest first, asking for one row
        more than ``limit`` (see ``records.page_of``)."""
        check_run_query(query)
        p = self.placeholder
        where: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("task", query.task),
            ("status", query.status),
            ("parent_id", query.parent_id),
            ("schedule", query.schedule),
        ):
            if value is not None:
                where.append(f"{column} = {p}")
                params.append(value)
        if query.roots_only:
            where.append("parent_id IS NULL")
        if query.cursor is not None:
            where.append(f"id < {p}")
            params.append(query.cursor)
        sql = "SELECT data FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY id DESC LIMIT {p}"
        params.append(query.limit + 1)  # one more tells whether another page exists
        return sql, params

    def runs_by_prefix(self, prefix: str, limit: int) -> tuple[str, tuple[Any, ...]]:
        """The range scan of ``runs_by_prefix``, newest first; rows go to ``runs_of``."""
        low, high = prefix_bounds(prefix)
        return self._runs_by_prefix, (low, high, limit)

    def kv_list(
        self, namespace: str, prefix: str, after: str | None, limit: int
    ) -> tuple[str, tuple[Any, ...]]:
        """The scan for ``kv_list`` (a checked ``namespace``, ``limit`` at least 1);
        its rows go to ``kv_listed``."""
        start, inclusive = kv_start(prefix, after)
        return (self._kv_from if inclusive else self._kv_after), (namespace, start, limit)


def scope_migration(submitted_by: str) -> list[str]:
    """The statements that make idempotency keys unique per scope
    (``seqd.model.scopes``) in a ``runs`` table made before scopes: the new column, the
    scope of every keyed run already stored — the rule of ``scopes.legacy_scope``, in
    SQL — in the column and in ``data`` (its JSON object gains the field in front), and
    the unique index on (scope, key) in place of the one on the key alone.
    ``submitted_by`` is the backend's SQL for the submitter's uid in ``data``."""
    legacy = (
        "CASE WHEN parent_id IS NOT NULL"
        " AND substr(idempotency_key, 1, length(parent_id) + 1) = parent_id || '.'"
        " THEN 'run:' || parent_id"
        f" WHEN {submitted_by} IS NOT NULL THEN 'uid:' || ({submitted_by})"
        " ELSE 'system' END"
    )
    keyed = " WHERE idempotency_key IS NOT NULL"
    return [
        "ALTER TABLE runs ADD COLUMN idempotency_scope TEXT",
        f"UPDATE runs SET idempotency_scope = {legacy}" + keyed,
        "UPDATE runs SET data = '{\"idempotency_scope\":\"' || idempotency_scope || '\",'"
        " || substr(data, 2)" + keyed,
        "DROP INDEX runs_idempotency_key",
        "CREATE UNIQUE INDEX runs_idempotency ON runs (idempotency_scope, idempotency_key)" + keyed,
    ]


# -- rows to records ----------------------------------------------------------------------


def runs_of(rows: Iterable[Row]) -> list[Run]:
    """Runs from rows whose first column is ``data``."""
    return [RUN_DECODER.decode(row[0]) for row in rows]


def changes_of(rows: Iterable[Row]) -> list[RunChange]:
    """``run_changes``'s answer from rows of (``change_seq``, ``data``)."""
    return [RunChange(position=int(seq), run=RUN_DECODER.decode(data)) for seq, data in rows]


def counts_of(rows: Iterable[Row]) -> dict[str, int]:
    """``{key: count}`` from ``(key, count)`` rows: ``count_by_status``'s answer, and
    ``count_children``'s."""
    return {str(status): int(count) for status, count in rows}


def log_lines(rows: Iterable[Row]) -> list[LogLine]:
    """Log lines from the rows of ``read_logs``."""
    return [LogLine(seq=s, ts=ts, stream=st, text=tx) for s, ts, st, tx in rows]


def kv_entry(namespace: str, key: str, rows: list[Row]) -> KVEntry | None:
    """The entry from the rows of ``kv_get`` (none: no entry)."""
    if not rows:
        return None
    value, updated = rows[0]
    return KVEntry(
        namespace=namespace, key=key, value=msgspec.json.decode(value), updated_at=updated
    )


def kv_listed(namespace: str, prefix: str, rows: Iterable[Row]) -> list[KVEntry]:
    """``kv_list``'s answer from the rows of its scan."""
    entries = [
        KVEntry(namespace=namespace, key=k, value=msgspec.json.decode(v), updated_at=u)
        for k, v, u in rows
    ]
    return kv_page(entries, prefix)
