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


def test_calls_made_for_a_live_run_are_spans_of_its_trace(tmp_path: Path) -> None:
    from seqd.model.traces import run_span_id

    events: list[TraceEvent] = []
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"

    async def main() -> None:
        inner = SQLiteStorageFactory().create({}, StorageContext(str(tmp_path), "normal"))
        store = TracedStorage(inner, events.append)
        store.trace_for = lambda run_id: trace if run_id == "0123456789abcdef" else None
        await store.open()
        run = Run(id="0123456789abcdef", task="t", status="queued", created_at="x", trace_id=trace)
        await store.create_run(run)
        await store.append_logs(run.id, [NewLogLine(ts="x", stream="log", text="a")])
        await store.append_logs("fedcba9876543210", [NewLogLine(ts="x", stream="log", text="a")])
        await store.list_runs(RunQuery())
        await store.close()

    asyncio.run(main())
    calls = {(c.operation, c.run_id): c for c in events if isinstance(c, StorageCall)}
    for key in (("create_run", "0123456789abcdef"), ("append_logs", "0123456789abcdef")):
        call = calls[key]
        assert call.trace_id == trace and call.parent_span_id == run_span_id(key[1])
        assert call.span_id and call.start and call.end and call.start <= call.end
    untraced = [c for c in events if isinstance(c, StorageCall) and c.trace_id is None]
    assert [c.operation for c in untraced] == ["open", "append_logs", "list_runs", "close"]
