"""The SQLite store's small tables: the key-value state of the ``kv.*`` tools, the
alert history and the schedules, as a mixin of ``SQLiteBackend``.

Its own module because these tables are read and written the same simple way (one
statement on a reader, or one small write), apart from the runs, logs and journals
whose writes the backend tunes for the hot path.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from seqd.builtin.storage.sqlite.writer import SMALL_BYTES
from seqd.model.alerts import AlertEvent, NewAlertEvent
from seqd.model.runs import (
    KVEntry,
)
from seqd.model.schedules import Schedule
from seqd.plugins.storage import check_kv_name
from seqd.plugins.storage_kit.alerts import (
    AlertStatements,
    event_data,
    events_of,
)
from seqd.plugins.storage_kit.records import (
    SCHEDULE_DECODER,
    check_schedule_name,
    new_kv_entry,
    schedule_text,
)
from seqd.plugins.storage_kit.sql import (
    Statements,
    kv_entry,
    kv_listed,
)

T = TypeVar("T")
_SQL = Statements("?", position="?")
_ALERTS = AlertStatements("?")


class SmallTables:
    """Needs the backend's ``_write`` and ``_read`` (``SQLiteBackend``)."""

    if TYPE_CHECKING:

        def _write(
            self, op: Callable[[sqlite3.Connection], T], *, small: bool = True
        ) -> asyncio.Future[T]: ...

        def _read(self, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]: ...

    # -- key-value state -------------------------------------------------------------

    async def kv_get(self, namespace: str, key: str) -> KVEntry | None:
        check_kv_name(namespace, key)

        def fn(conn: sqlite3.Connection) -> KVEntry | None:
            return kv_entry(namespace, key, conn.execute(_SQL.kv_get, (namespace, key)).fetchall())

        return await self._read(fn)

    async def kv_set(self, namespace: str, key: str, value: Any) -> KVEntry:
        entry, text = new_kv_entry(namespace, key, value)

        def op(conn: sqlite3.Connection) -> None:
            conn.execute(_SQL.kv_set, (namespace, key, text, entry.updated_at))

        await self._write(op, small=len(text) <= SMALL_BYTES)
        return entry

    async def kv_delete(self, namespace: str, key: str) -> bool:
        check_kv_name(namespace, key)

        def op(conn: sqlite3.Connection) -> bool:
            return conn.execute(_SQL.kv_delete, (namespace, key)).rowcount == 1

        return await self._write(op)

    async def kv_namespaces(self) -> list[str]:
        def fn(conn: sqlite3.Connection) -> list[str]:
            return [row[0] for row in conn.execute(_SQL.kv_namespaces).fetchall()]

        return await self._read(fn)

    async def kv_list(
        self, namespace: str, prefix: str = "", after: str | None = None, limit: int = 100
    ) -> list[KVEntry]:
        check_kv_name(namespace)
        if limit < 1:
            return []
        text, params = _SQL.kv_list(namespace, prefix, after, limit)

        def fn(conn: sqlite3.Connection) -> list[KVEntry]:
            return kv_listed(namespace, prefix, conn.execute(text, params).fetchall())

        return await self._read(fn)

    # -- alert history ---------------------------------------------------------------

    async def append_alert_event(self, event: NewAlertEvent) -> int:
        row = (event.rule, event_data(event))

        def op(conn: sqlite3.Connection) -> int:
            return int(conn.execute(_ALERTS.insert, row).lastrowid or 0)

        return await self._write(op)

    async def list_alert_events(
        self, rule: str | None = None, before: int | None = None, limit: int = 100
    ) -> list[AlertEvent]:
        text, params = _ALERTS.select(rule, before, limit)

        def fn(conn: sqlite3.Connection) -> list[AlertEvent]:
            return events_of(conn.execute(text, params).fetchall())

        return await self._read(fn)

    # -- schedules -------------------------------------------------------------------

    async def save_schedule(self, schedule: Schedule) -> None:
        params = (schedule.name, schedule_text(schedule))

        def op(conn: sqlite3.Connection) -> None:
            conn.execute(_SQL.save_schedule, params)

        await self._write(op, small=len(params[1]) <= SMALL_BYTES)

    async def get_schedule(self, name: str) -> Schedule | None:
        check_schedule_name(name)

        def fn(conn: sqlite3.Connection) -> Schedule | None:
            rows = conn.execute(_SQL.get_schedule, (name,)).fetchall()
            return SCHEDULE_DECODER.decode(rows[0][0]) if rows else None

        return await self._read(fn)

    async def list_schedules(self) -> list[Schedule]:
        def fn(conn: sqlite3.Connection) -> list[Schedule]:
            rows = conn.execute(_SQL.list_schedules).fetchall()
            return [SCHEDULE_DECODER.decode(row[0]) for row in rows]

        return await self._read(fn)

    async def delete_schedule(self, name: str) -> bool:
        check_schedule_name(name)

        def op(conn: sqlite3.Connection) -> bool:
            return conn.execute(_SQL.delete_schedule, (name,)).rowcount == 1

        return await self._write(op)
