"""The file store's alert history: ``<root>/alerts.jsonl``, one event per line.

It is a seq file like a run's journal (``logs``: whole-line appends, a torn tail cut
at the next open, every line opened with its ``"seq"``), one for the whole store.
What the loop knows of it — its size and last seq — is read once, at the first alert
call, so stores that never alert never touch it. Listing reads the whole file: alert
history is a few events per incident, fine for tens of thousands of lines.
"""

from __future__ import annotations

import asyncio
import os
from functools import partial

import msgspec

from seqd.builtin.storage.fs import logs
from seqd.builtin.storage.fs.logs import Format, LogState
from seqd.builtin.storage.fs.store import FileStore
from seqd.model.alerts import AlertEvent, NewAlertEvent
from seqd.plugins.storage_kit.alerts import check_alert_query, event_data, select_events

FILE_NAME = "alerts.jsonl"


def _write_event(seq: int, event: NewAlertEvent, buf: bytearray) -> None:
    buf += b'{"seq":%d,' % seq
    buf += event_data(event).encode()[1:]


ALERTS: Format[AlertEvent, NewAlertEvent] = Format(
    FILE_NAME, "alert history", _write_event, msgspec.json.Decoder(AlertEvent)
)


class AlertHistory:
    """``append_alert_event`` and ``list_alert_events`` of one ``FileStore``."""

    def __init__(self, store: FileStore) -> None:
        self._store = store
        self._path = os.path.join(store.location, FILE_NAME)
        self._state: LogState | None = None
        self._lock = asyncio.Lock()

    async def _loaded(self) -> LogState:
        # A process that does not own the store (``seqd export`` beside the daemon)
        # looks again each time: the owner may have appended meanwhile.
        owner = self._store.owns_store()
        if self._state is None or not owner:
            size, last = await self._store.read(partial(_recover, self._path, owner))
            self._state = LogState(None, last, size)
        return self._state

    async def append(self, event: NewAlertEvent) -> int:
        return await self._store.guard(self._append(event))

    async def _append(self, event: NewAlertEvent) -> int:
        await self._store.writable()
        async with self._lock:
            state = await self._loaded()
            seq = state.last_seq + 1
            data, marks = logs.encode(ALERTS, seq, [event])

            def apply(span: tuple[int, int]) -> None:
                state.appended(span[0], span[1], marks, seq)

            await self._store.commit(partial(logs.append, self._path, state.size, data), apply)
            return seq

    async def list(self, rule: str | None, before: int | None, limit: int) -> list[AlertEvent]:
        check_alert_query(rule, before, limit)
        self._store.readers.check()
        async with self._lock:
            state = await self._loaded()
        if limit == 0 or state.last_seq == 0:
            return []
        read = partial(logs.read, ALERTS, self._path, state.size, [], 0, 0, 0, state.last_seq)
        try:
            found = await self._store.read(read)
        except FileNotFoundError:
            return []
        return select_events(found.lines, rule, before, limit)


def _recover(path: str, cut: bool) -> tuple[int, int]:
    """(size, last seq) of the history file; (0, 0) while there is none."""
    try:
        return logs.recover(path, cut)
    except FileNotFoundError:
        return 0, 0
