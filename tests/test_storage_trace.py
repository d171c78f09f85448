"""Every storage call is timed and traced in one place, whatever the backend."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from seqd.builtin.storage.sqlite.backend import SQLiteStorageFactory
from seqd.errors import Conflict
from seqd.model.runs import NewLogLine, Run, RunQuery
from seqd.plugins.storage import StorageContext
from seqd.plugins.tracing import StorageCall, TraceEvent
from seqd.storage.traced import TracedStorage


def test_calls_are_traced_with_rows_and_errors(tmp_path: Path) -> None:
    events: list[TraceEvent] = []

    async def main() -> None:
        inner = SQLiteStorageFactory().create({}, StorageContext(str(tmp_path), "normal"))
        store = TracedStorage(inner, events.append)
        await store.open()
        run = Run(id="0123456789abcdef", task="t", status="queued", created_at="x")
        assert (await store.create_run(run))[1]
        await store.append_logs(run.id, [NewLogLine(ts="x", stream="log", text="a")] * 3)
        assert len((await store.list_runs(RunQuery())).runs) == 1
        with pytest.raises(Conflict):
            await store.create_run(run)
        await store.close()

    asyncio.run(main())
    calls = [e for e in events if isinstance(e, StorageCall)]
    ops = [c.operation for c in calls]
    assert ops == ["open", "create_run", "append_logs", "list_runs", "create_run", "close"]
    assert all(c.duration_s >= 0 for c in calls)
    assert calls[2].rows == 3 and calls[3].rows == 1
    assert calls[4].error is not None and "Conflict" in calls[4].error


def test_unwanted_calls_are_counted_not_traced(tmp_path: Path) -> None:
    events: list[TraceEvent] = []

    async def main() -> TracedStorage:
        inner = SQLiteStorageFactory().create({}, StorageContext(str(tmp_path), "normal"))
        store = TracedStorage(inner, events.append, lambda event_type: False)
        await store.open()
        run = Run(id="0123456789abcdef", task="t", status="queued", created_at="x")
        assert (await store.create_run(run))[1]
        with pytest.raises(Conflict):
            await store.create_run(run)
        await store.close()
        return store

    store = asyncio.run(main())
    assert events == []
    assert (store.calls, store.errors) == (4, 1)
