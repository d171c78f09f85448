"""The PostgreSQL backend's records beside runs: logs, the journal, key-value state,
alert history and schedules (a base of ``PostgresBackend``, which owns the plumbing).

Log and journal appends of a run this node holds are fenced (``cluster``): a node that
lost the run to another cannot add to its record.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from seqd.errors import StorageUnavailable
from seqd.model.alerts import AlertEvent, NewAlertEvent
from seqd.model.runs import KVEntry, LogLine, NewLogLine, NewStep, Step
from seqd.model.schedules import Schedule
from seqd.plugins.storage import LeaseLost, check_kv_name
from seqd.plugins.storage_kit import sql
from seqd.plugins.storage_kit.alerts import AlertStatements, event_data, events_of
from seqd.plugins.storage_kit.records import (
    SCHEDULE_DECODER,
    check_schedule_name,
    new_kv_entry,
    schedule_text,
)
from seqd_postgres import queries as q
from seqd_postgres.cluster import Cluster
from seqd_postgres.faults import never_sent

_ALERTS = AlertStatements("%s")
UNSURE_FOR_S = 60.0
"""How long a write whose commit went unanswered goes on asking the server about it."""
logger = logging.getLogger(__name__)


class Records:
    """Needs the backend's ``shared``, ``_fetch_one``, ``_fetch_all`` and ``_write``
    (``PostgresBackend``)."""

    shared: Cluster | None

    if TYPE_CHECKING:

        async def _fetch_one(self, query: str, params: Sequence[Any]) -> Any: ...

        async def _fetch_all(self, query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]: ...

        async def _write(self, query: str, params: Any, value: bool = False) -> Any: ...

    async def _append(self, run_id: str, query: str, fenced: str, params: dict[str, Any]) -> int:
        """A numbered append, fenced when this node holds the run."""
        fence = self.shared.fence(run_id) if self.shared is not None else None
        if fence is None:
            return int(await self._write(query, params, value=True))
        params = {**params, "node": fence[0], "epoch": fence[1]}
        last = await self._write(fenced, params, value=True)
        if last is None:
            raise LeaseLost(run_id)
        return int(last)

    # -- logs ------------------------------------------------------------------------

    async def append_logs(self, run_id: str, lines: Sequence[NewLogLine]) -> int:
        if not lines:
            return int(await self._fetch_one(q.LAST_SEQ, (run_id,)) or 0)
        params = q.log_params(run_id, lines)
        return await self._append(run_id, q.APPEND_LOGS, q.APPEND_LOGS_FENCED, params)

    async def read_logs(self, run_id: str, after: int, limit: int) -> list[LogLine]:
        if limit < 1:
            return []
        return sql.log_lines(await self._fetch_all(q.SQL.read_logs, (run_id, after, limit)))

    async def last_log_seq(self, run_id: str) -> int:
        return int(await self._fetch_one(q.LAST_SEQ, (run_id,)) or 0)

    # -- journal ---------------------------------------------------------------------

    async def append_steps(self, run_id: str, steps: Sequence[NewStep]) -> int:
        if not steps:
            return int(await self._fetch_one(q.LAST_STEP, (run_id,)) or 0)
        params = q.step_params(run_id, steps)
        data = params["data"]
        try:
            return await self._append(run_id, q.APPEND_STEPS, q.APPEND_STEPS_FENCED, params)
        except StorageUnavailable as exc:
            if never_sent(exc):
                raise
            landed = await self._landed(run_id, data)
            if landed is None:
                raise
            return landed

    async def _landed(self, run_id: str, data: list[str]) -> int | None:
        """After an append whose commit went unanswered: its last seq if it committed
        (the journal ends with exactly these entries, timestamps and keys included),
        else None, so that the caller's retry cannot journal a step twice. Asked until
        the server answers, for a while."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + UNSURE_FOR_S
        while True:
            try:
                rows = await self._fetch_all(q.STEPS_TAIL, (run_id, len(data)))
                break
            except StorageUnavailable:
                if loop.time() > deadline:
                    return None
                await asyncio.sleep(0.2)
        if [row[1] for row in reversed(rows)] != data:
            return None
        logger.info("run %s: a journal append went unanswered but had committed", run_id)
        return int(rows[0][0])

    async def read_steps(self, run_id: str, after: int, limit: int) -> list[Step]:
        if limit < 1:
            return []
        rows = await self._fetch_all(q.READ_STEPS, (run_id, after, limit))
        return [q.step_of(seq, data) for seq, data in rows]

    async def last_step_seq(self, run_id: str) -> int:
        return int(await self._fetch_one(q.LAST_STEP, (run_id,)) or 0)

    # -- key-value state -------------------------------------------------------------

    async def kv_get(self, namespace: str, key: str) -> KVEntry | None:
        check_kv_name(namespace, key)
        return sql.kv_entry(namespace, key, await self._fetch_all(q.SQL.kv_get, (namespace, key)))

    async def kv_set(self, namespace: str, key: str, value: Any) -> KVEntry:
        entry, text = new_kv_entry(namespace, key, value)
        await self._write(q.SQL.kv_set, (namespace, key, text, entry.updated_at))
        return entry

    async def kv_delete(self, namespace: str, key: str) -> bool:
        check_kv_name(namespace, key)
        return bool(await self._write(q.SQL.kv_delete, (namespace, key)) == 1)

    async def kv_namespaces(self) -> list[str]:
        return [row[0] for row in await self._fetch_all(q.SQL.kv_namespaces, ())]

    async def kv_list(
        self, namespace: str, prefix: str = "", after: str | None = None, limit: int = 100
    ) -> list[KVEntry]:
        check_kv_name(namespace)
        if limit < 1:
            return []
        query, params = q.SQL.kv_list(namespace, prefix, after, limit)
        return sql.kv_listed(namespace, prefix, await self._fetch_all(query, params))

    # -- alert history ---------------------------------------------------------------

    async def append_alert_event(self, event: NewAlertEvent) -> int:
        query = _ALERTS.insert + " RETURNING seq"
        return int(await self._write(query, (event.rule, event_data(event)), value=True))

    async def list_alert_events(
        self, rule: str | None = None, before: int | None = None, limit: int = 100
    ) -> list[AlertEvent]:
        query, params = _ALERTS.select(rule, before, limit)
        return events_of(await self._fetch_all(query, params))

    # -- schedules -------------------------------------------------------------------

    async def save_schedule(self, schedule: Schedule) -> None:
        await self._write(q.SQL.save_schedule, (schedule.name, schedule_text(schedule)))

    async def get_schedule(self, name: str) -> Schedule | None:
        check_schedule_name(name)
        data = await self._fetch_one(q.SQL.get_schedule, (name,))
        return None if data is None else SCHEDULE_DECODER.decode(data)

    async def list_schedules(self) -> list[Schedule]:
        rows = await self._fetch_all(q.SQL.list_schedules, ())
        return [SCHEDULE_DECODER.decode(row[0]) for row in rows]

    async def delete_schedule(self, name: str) -> bool:
        check_schedule_name(name)
        return bool(await self._write(q.SQL.delete_schedule, (name,)) == 1)
