"""The ``Job`` a task type sees while the engine executes one of its runs: the run,
its work directory, its log, its journal, child runs and tool calls.

Its own module because it is the contract with task types (``seqd.plugins.tasktype``):
what the engine offers them lives here, behind the narrow ``JobHost`` it calls back.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from msgspec.structs import replace

from seqd.access.policy import DAEMON, Principal
from seqd.config.secrets import Secrets
from seqd.errors import Conflict, StorageUnavailable
from seqd.model.runs import LogStream, NewStep, Resources, Run, Step
from seqd.model.scopes import child_scope
from seqd.model.status import TERMINAL
from seqd.model.traces import step_span_id
from seqd.plugins.storage import StorageBackend
from seqd.plugins.tasktype import TaskSource
from seqd.plugins.tools import RunStarter

from .runlog import RunLog

T = TypeVar("T")

JOURNAL_PAGE = 10_000
MAX_METRIC_NOTES = 10
"""Dropped task metrics one run's log tells of; later drops are only counted."""
_TOOL_STREAMS: dict[str, LogStream] = {"stdout": "stdout", "stderr": "stderr"}

logger = logging.getLogger(__name__)


class JobHost(RunStarter, Protocol):
    """What a job uses of the engine (the ``Engine`` is one): runs to start, read,
    wait for and cancel, tools to call, and the storage of the journal."""

    @property
    def storage(self) -> StorageBackend: ...

    async def get(self, run_id: str) -> Run: ...

    async def cancel(self, run_id: str, reason: str | None, who: Principal) -> Run: ...

    async def call_tool(
        self,
        run: Run,
        name: str,
        params: dict[str, Any],
        log: Callable[[str, str], None],
        key: str | None = None,
    ) -> Any: ...

    def note_pid(self, run_id: str, pid: int | None) -> None: ...

    def journaled(self, run_id: str) -> None:
        """Entries were appended to the run's journal (its spans must be read)."""

    def record_metric(
        self, run: Run, name: Any, value: Any, kind: Any, labels: Any
    ) -> str | None: ...


class ActiveJob:
    """Implements ``seqd.plugins.tasktype.Job`` for one execution."""

    def __init__(
        self,
        run: Run,
        source: TaskSource,
        work_dir: str,
        log: RunLog,
        engine: JobHost,
        secrets: Secrets | None = None,
    ) -> None:
        self._run = run
        self._secrets = secrets if secrets is not None else Secrets()
        """Masks secret values in journal entries before they are stored."""
        self._source = source
        self._work_path = work_dir
        self.runlog = log
        self._engine = engine
        self.resources: Resources | None = None
        self.cancel_reason: tuple[str, str] | None = None
        self.execution: asyncio.Task[Any] | None = None
        self._began = time.monotonic()
        self._metric_notes: set[str] = set()

    @property
    def running_s(self) -> float:
        """The run's time executing: its earlier executions and this one so far."""
        return round((self._run.running_s or 0.0) + time.monotonic() - self._began, 6)

    @property
    def run(self) -> Run:
        return self._run

    @property
    def task(self) -> TaskSource:
        return self._source

    @property
    def input(self) -> dict[str, Any]:
        return self._run.input

    @property
    def work_dir(self) -> str:
        os.makedirs(self._work_path, exist_ok=True)
        return self._work_path

    @property
    def work_path(self) -> str:
        return self._work_path

    def log(self, stream: LogStream, text: str) -> None:
        self.runlog.add(stream, text)

    @property
    def log_full(self) -> bool:
        return self.runlog.full

    async def set_pid(self, pid: int | None) -> None:
        self._engine.note_pid(self._run.id, pid)

    def metric(self, name: str, value: float, kind: str, labels: dict[str, str]) -> None:
        why = self._engine.record_metric(self._run, name, value, kind, labels)
        notes = self._metric_notes
        if why is not None and why not in notes and len(notes) < MAX_METRIC_NOTES:
            notes.add(why)
            self.runlog.add("system", f"metric dropped: {why}")

    # -- durable work: the journal and child runs ----------------------------------------

    async def journal(self) -> list[Step]:
        storage = self._engine.storage
        steps: list[Step] = []
        while True:
            page = await self._patiently(
                lambda: storage.read_steps(self._run.id, len(steps), JOURNAL_PAGE)
            )
            steps.extend(page)
            if len(page) < JOURNAL_PAGE:
                return steps

    async def record(self, steps: list[NewStep]) -> None:
        if self._secrets.active:
            steps = [self._secrets.redact_value(step) for step in steps]

        async def append() -> int:
            self._engine.journaled(self._run.id)
            return await self._engine.storage.append_steps(self._run.id, steps)

        await self._patiently(append)

    async def _patiently(self, call: Callable[[], Awaitable[T]]) -> T:
        """An outage delays the journal, as it delays logs: wait for storage to return
        (a read or a write of the journal never fails the run for an outage)."""
        delay = 0.1
        while True:
            try:
                return await call()
            except StorageUnavailable as exc:
                logger.warning("run %s: journal waits for storage: %s", self._run.id, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def start_child(
        self, task: str, data: dict[str, Any], *, key: str, span_key: str | None = None
    ) -> Run:
        run = self._run
        # The key makes the start idempotent across restarts; the attempt is part of
        # it, so a retried parent starts fresh children. It lives in this run's own
        # scope, which no caller can write to.
        idempotency_key = f"{run.id}.{run.attempt}:{key}"
        try:
            child = await self._engine.submit(
                task,
                data,
                idempotency_key=idempotency_key,
                idempotency_scope=child_scope(run.id),
                priority=run.priority,
                submitted_by=run.submitted_by,
                parent_id=run.id,
                root_id=run.root_id,
                parent_span_id=None if span_key is None else step_span_id(run.id, span_key),
            )
        except Conflict as exc:
            # Same key, other input: the task's defaults changed since the child was
            # started (the parent is resuming). The child that exists is the one.
            child_id = exc.details.get("id")
            if not isinstance(child_id, str):
                raise
            child = await self._engine.get(child_id)
        if child.parent_id != run.id:
            # Never adopt a run that is not ours, whoever made it hold the key.
            raise Conflict(
                f"run {child.id} holds the key of a child of run {run.id} but is not its child",
                {"id": child.id, "parent_id": child.parent_id, "field": "idempotency_key"},
            )
        return child

    async def wait_run(self, run_id: str) -> Run:
        while True:
            run = await self._engine.wait(run_id, None)
            if run.status in TERMINAL:
                return run

    async def cancel_run(self, run_id: str, reason: str) -> Run:
        return await self._engine.cancel(run_id, reason, DAEMON)

    async def call_tool(self, name: str, params: dict[str, Any], *, key: str | None = None) -> Any:
        return await self._engine.call_tool(self._run, name, params, self._log_line, key)

    def _log_line(self, stream: str, text: str) -> None:
        self.runlog.add(_TOOL_STREAMS.get(stream, "log"), text)

    @property
    def cancel_kind(self) -> str | None:
        return self.cancel_reason[0] if self.cancel_reason is not None else None

    async def wait_logged(self, backlog_bytes: int = 1 << 20) -> None:
        """Backpressure for fast producers: once more than ``backlog_bytes`` of lines
        wait for storage, wait until they are stored."""
        if self.runlog.pending_bytes > backlog_bytes:
            await self.runlog.flush()

    def set_resources(self, resources: Resources) -> None:
        if resources.cpu_s is not None:
            resources = replace(resources, cpu_s=round(resources.cpu_s, 6))
        self.resources = resources
