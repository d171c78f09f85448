"""The one place every storage call passes through: timed, counted, traced, and each
write announced once stored.

``TracedStorage`` wraps whichever backend the config chose and emits a
``StorageCall`` tracer event per call (operation, duration, rows, error), so slow
queries show up without any backend doing anything for it. A call made for a run
(its record, log or journal) while the run is queued or running is a span of the
run's trace; these spans go to tracers only, never to storage (that would double the
writes). Given an ``Announce`` (the event bus), it tells it of every run write, log
append and journal append that stored something, with its position, whoever wrote it
(the engine, flows, task types through their jobs, recovery): events can neither be
forgotten by a new writer nor sent before the write they report is stored. The
unfinished runs recovery reads are told too, since they may log before their next
write.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from seqd.model import timeutil
from seqd.model.alerts import AlertEvent, NewAlertEvent
from seqd.model.retention import PruneBatch, PruneQuery
from seqd.model.runs import (
    KVEntry,
    LogLine,
    NewLogLine,
    NewStep,
    Run,
    RunChange,
    RunPage,
    RunQuery,
    RunStatus,
    Step,
)
from seqd.model.schedules import Schedule
from seqd.model.traces import new_span_id, run_span_id, trace_of
from seqd.plugins.storage import StorageBackend
from seqd.plugins.tracing import StorageCall, TraceEvent

T = TypeVar("T")


class Announce(Protocol):
    """Who hears of stored writes (``seqd.events.bus.EventBus``)."""

    def run_written(self, position: int, run: Run) -> None: ...
    def logs_written(self, run_id: str, last: int, lines: Sequence[NewLogLine]) -> None: ...
    def steps_written(self, run_id: str, last: int, steps: Sequence[NewStep]) -> None: ...
    def known(self, runs: Sequence[Run]) -> None: ...


class TracedStorage:
    """A ``StorageBackend`` that delegates to ``inner``, reports every call and
    announces every write to ``announce``."""

    def __init__(
        self,
        inner: StorageBackend,
        emit: Callable[[TraceEvent], None],
        wants: Callable[[type[TraceEvent]], bool] = lambda _t: True,
        observe: Callable[[str, float, bool], None] | None = None,
        announce: Announce | None = None,
    ) -> None:
        """``observe(operation, seconds, failed)`` is told of every call (metrics)."""
        self.inner = inner
        self.name = inner.name
        self.location = inner.location
        self._emit = emit
        self._wants = wants
        self._observe = observe
        self._announce = announce
        self.trace_for: Callable[[str], str | None] = lambda _run_id: None
        """The trace id of a run that is queued or running (set by the daemon, from
        the engine): calls for other runs are not part of a trace."""
        self.calls = 0
        self.errors = 0

    @property
    def shared(self) -> object:
        """The inner backend's ``SharedQueue`` (``seqd.plugins.storage.shared_queue``)."""
        return getattr(self.inner, "shared", None)

    async def _traced(
        self,
        operation: str,
        call: Any,
        rows: Callable[[Any], int | None],
        run_id: str | None = None,
        run: Run | None = None,
    ) -> Any:
        traced = self._wants(StorageCall)  # else only counted: no event is built
        started = time.perf_counter()
        wall = time.time() if traced else 0.0
        try:
            result = await call
        except Exception as exc:
            elapsed = time.perf_counter() - started
            self.calls += 1
            self.errors += 1
            if self._observe is not None:
                self._observe(operation, elapsed, True)
            if traced:
                error = f"{type(exc).__name__}: {exc}"
                self._emit(self._event(operation, started, wall, run_id, run, None, error))
            raise
        elapsed = time.perf_counter() - started
        self.calls += 1
        if self._observe is not None:
            self._observe(operation, elapsed, False)
        if traced:
            if isinstance(result, tuple) and isinstance(result[0], Run):
                run = result[0]  # create_run: the run stored under its idempotency key
            self._emit(self._event(operation, started, wall, run_id, run, rows(result), None))
        return result

    def _event(
        self,
        operation: str,
        started: float,
        wall: float,
        run_id: str | None,
        run: Run | None,
        rows: int | None,
        error: str | None,
    ) -> StorageCall:
        duration = time.perf_counter() - started
        end = timeutil.now()
        trace_id: str | None = None
        if run is not None:
            run_id, trace_id = run.id, trace_of(run)
        elif run_id is not None:
            trace_id = self.trace_for(run_id)
        if trace_id is None or run_id is None:
            return StorageCall(
                ts=end, operation=operation, duration_s=duration, rows=rows, error=error
            )
        return StorageCall(
            ts=end,
            operation=operation,
            duration_s=duration,
            rows=rows,
            error=error,
            run_id=run_id,
            trace_id=trace_id,
            span_id=new_span_id(),
            parent_span_id=run_span_id(run_id),
            start=timeutil.format_ts(wall),
            end=end,
        )

    async def claim(self) -> None:
        await self._traced("claim", self.inner.claim(), _none)

    async def open(self) -> None:
        await self._traced("open", self.inner.open(), _none)

    async def close(self) -> None:
        await self._traced("close", self.inner.close(), _none)

    async def create_run(self, run: Run) -> tuple[Run, int]:
        result: tuple[Run, int] = await self._traced(
            "create_run", self.inner.create_run(run), lambda r: int(r[1] > 0), run=run
        )
        if result[1] and self._announce is not None:
            self._announce.run_written(result[1], result[0])
        return result

    async def create_runs(self, runs: Sequence[Run]) -> list[tuple[Run, int]]:
        result: list[tuple[Run, int]] = await self._traced(
            "create_runs", self.inner.create_runs(runs), lambda r: sum(p > 0 for _, p in r)
        )
        if self._announce is not None:
            for stored, position in result:
                if position:
                    self._announce.run_written(position, stored)
        return result

    async def update_run(self, run: Run, expect: Sequence[RunStatus] | None = None) -> int:
        result: int = await self._traced(
            "update_run", self.inner.update_run(run, expect), lambda r: int(r > 0), run=run
        )
        if result and self._announce is not None:
            self._announce.run_written(result, run)
        return result

    async def get_run(self, run_id: str) -> Run | None:
        result: Run | None = await self._traced(
            "get_run", self.inner.get_run(run_id), lambda r: int(r is not None)
        )
        return result

    async def list_runs(self, query: RunQuery) -> RunPage:
        result: RunPage = await self._traced(
            "list_runs", self.inner.list_runs(query), lambda r: len(r.runs)
        )
        return result

    async def runs_by_prefix(self, prefix: str, limit: int) -> list[Run]:
        result: list[Run] = await self._traced(
            "runs_by_prefix", self.inner.runs_by_prefix(prefix, limit), len
        )
        return result

    async def count_children(self, run_ids: Sequence[str]) -> dict[str, int]:
        result: dict[str, int] = await self._traced(
            "count_children", self.inner.count_children(run_ids), len
        )
        return result

    async def count_by_status(self) -> dict[str, int]:
        result: dict[str, int] = await self._traced(
            "count_by_status", self.inner.count_by_status(), len
        )
        return result

    async def unfinished_runs(self) -> list[Run]:
        result: list[Run] = await self._traced("unfinished_runs", self.inner.unfinished_runs(), len)
        if self._announce is not None:
            self._announce.known(result)
        return result

    async def run_changes(
        self, after: int, limit: int, root_id: str | None = None
    ) -> list[RunChange]:
        result: list[RunChange] = await self._traced(
            "run_changes", self.inner.run_changes(after, limit, root_id), len
        )
        return result

    async def last_change(self) -> int:
        result: int = await self._traced("last_change", self.inner.last_change(), _none)
        return result

    async def prune_runs(self, query: PruneQuery) -> PruneBatch:
        result: PruneBatch = await self._traced(
            "prune_runs", self.inner.prune_runs(query), lambda r: len(r.removed)
        )
        return result

    async def append_logs(self, run_id: str, lines: Sequence[NewLogLine]) -> int:
        count = len(lines)
        result: int = await self._traced(
            "append_logs", self.inner.append_logs(run_id, lines), lambda _r: count, run_id
        )
        if self._announce is not None:
            self._announce.logs_written(run_id, result, lines)
        return result

    async def read_logs(self, run_id: str, after: int, limit: int) -> list[LogLine]:
        result: list[LogLine] = await self._traced(
            "read_logs", self.inner.read_logs(run_id, after, limit), len
        )
        return result

    async def last_log_seq(self, run_id: str) -> int:
        result: int = await self._traced("last_log_seq", self.inner.last_log_seq(run_id), _none)
        return result

    async def import_run(
        self, run: Run, logs: Sequence[NewLogLine], steps: Sequence[NewStep]
    ) -> bool:
        result: bool = await self._traced(
            "import_run", self.inner.import_run(run, logs, steps), _none, run.id
        )
        return result

    async def append_steps(self, run_id: str, steps: Sequence[NewStep]) -> int:
        count = len(steps)
        result: int = await self._traced(
            "append_steps", self.inner.append_steps(run_id, steps), lambda _r: count, run_id
        )
        if self._announce is not None:
            self._announce.steps_written(run_id, result, steps)
        return result

    async def read_steps(self, run_id: str, after: int, limit: int) -> list[Step]:
        result: list[Step] = await self._traced(
            "read_steps", self.inner.read_steps(run_id, after, limit), len, run_id
        )
        return result

    async def last_step_seq(self, run_id: str) -> int:
        result: int = await self._traced("last_step_seq", self.inner.last_step_seq(run_id), _none)
        return result

    async def kv_get(self, namespace: str, key: str) -> KVEntry | None:
        result: KVEntry | None = await self._traced(
            "kv_get", self.inner.kv_get(namespace, key), lambda r: int(r is not None)
        )
        return result

    async def kv_set(self, namespace: str, key: str, value: Any) -> KVEntry:
        result: KVEntry = await self._traced(
            "kv_set", self.inner.kv_set(namespace, key, value), lambda _r: 1
        )
        return result

    async def kv_delete(self, namespace: str, key: str) -> bool:
        result: bool = await self._traced(
            "kv_delete", self.inner.kv_delete(namespace, key), lambda r: int(r)
        )
        return result

    async def kv_namespaces(self) -> list[str]:
        result: list[str] = await self._traced("kv_namespaces", self.inner.kv_namespaces(), len)
        return result

    async def kv_list(
        self, namespace: str, prefix: str = "", after: str | None = None, limit: int = 100
    ) -> list[KVEntry]:
        result: list[KVEntry] = await self._traced(
            "kv_list", self.inner.kv_list(namespace, prefix, after, limit), len
        )
        return result

    async def append_alert_event(self, event: NewAlertEvent) -> int:
        result: int = await self._traced(
            "append_alert_event", self.inner.append_alert_event(event), lambda _r: 1
        )
        return result

    async def list_alert_events(
        self, rule: str | None = None, before: int | None = None, limit: int = 100
    ) -> list[AlertEvent]:
        result: list[AlertEvent] = await self._traced(
            "list_alert_events", self.inner.list_alert_events(rule, before, limit), len
        )
        return result

    async def save_schedule(self, schedule: Schedule) -> None:
        await self._traced("save_schedule", self.inner.save_schedule(schedule), lambda _r: 1)

    async def get_schedule(self, name: str) -> Schedule | None:
        result: Schedule | None = await self._traced(
            "get_schedule", self.inner.get_schedule(name), lambda r: int(r is not None)
        )
        return result

    async def list_schedules(self) -> list[Schedule]:
        result: list[Schedule] = await self._traced(
            "list_schedules", self.inner.list_schedules(), len
        )
        return result

    async def delete_schedule(self, name: str) -> bool:
        result: bool = await self._traced(
            "delete_schedule", self.inner.delete_schedule(name), lambda r: int(r)
        )
        return result


def _none(_result: Any) -> None:
    return None
