"""The engine's side of a run being executed: the ``Job`` a task type sees.

Log lines are batched per event-loop turn and appended to storage in order, one write
in flight per run; the per-run byte cap is enforced here, once for every task type.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING, Any

from msgspec.structs import replace

from seqd.errors import Conflict, StorageUnavailable
from seqd.model import timeutil
from seqd.model.runs import LogStream, NewLogLine, NewStep, Resources, Run, Step
from seqd.model.status import TERMINAL
from seqd.plugins.storage import StorageBackend
from seqd.plugins.tasktype import TaskSource

if TYPE_CHECKING:
    from .engine import Engine

JOURNAL_PAGE = 10_000
_TOOL_STREAMS: dict[str, LogStream] = {"stdout": "stdout", "stderr": "stderr"}

logger = logging.getLogger(__name__)


class RunLog:
    """Ordered, capped, batched log writer for one run."""

    def __init__(self, storage: StorageBackend, run_id: str, cap_bytes: int) -> None:
        self.storage = storage
        self.run_id = run_id
        self.cap_bytes = cap_bytes
        self.written_bytes = 0
        self.full = False
        self.dropped = 0
        self._buffer: list[NewLogLine] = []
        self.pending_bytes = 0
        self._flushing: asyncio.Task[None] | None = None

    def add(self, stream: LogStream, text: str) -> None:
        if self.full:
            self.dropped += 1
            return
        size = len(text.encode("utf-8", "replace")) + 1
        if self.written_bytes + size > self.cap_bytes:
            self.full = True
            self.dropped += 1
            self.system(f"log cap of {self.cap_bytes} bytes reached; further output is dropped")
            return
        self.written_bytes += size
        self.pending_bytes += len(text) + 1
        self._buffer.append(NewLogLine(ts=timeutil.now(), stream=stream, text=text))
        if self._flushing is None:
            self._flushing = asyncio.ensure_future(self._flush_loop())

    def system(self, text: str) -> None:
        """A line from the daemon itself; not counted against the cap."""
        self._buffer.append(NewLogLine(ts=timeutil.now(), stream="system", text=text))
        self.pending_bytes += len(text) + 1
        if self._flushing is None:
            self._flushing = asyncio.ensure_future(self._flush_loop())

    async def _flush_loop(self) -> None:
        try:
            await asyncio.sleep(0)  # gather what this loop turn produces
            delay = 0.1
            while self._buffer:
                batch, self._buffer = self._buffer, []
                try:
                    await self.storage.append_logs(self.run_id, batch)
                    self.pending_bytes -= sum(len(line.text) + 1 for line in batch)
                    delay = 0.1
                except StorageUnavailable as exc:
                    # Keep the lines (the cap bounds them) and try again: an outage
                    # delays the log, it does not lose it.
                    logger.warning("run %s: log lines wait for storage: %s", self.run_id, exc)
                    self._buffer = batch + self._buffer
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                except Exception:
                    logger.exception(
                        "could not store %d log lines of run %s", len(batch), self.run_id
                    )
        finally:
            self._flushing = None

    async def flush(self) -> None:
        while self._flushing is not None:
            await asyncio.shield(self._flushing)
        if self._buffer:
            self._flushing = asyncio.ensure_future(self._flush_loop())
            await asyncio.shield(self._flushing)


class ActiveJob:
    """Implements ``seqd.plugins.tasktype.Job`` for one execution."""

    def __init__(
        self,
        run: Run,
        source: TaskSource,
        work_dir: str,
        log: RunLog,
        engine: Engine,
    ) -> None:
        self._run = run
        self._source = source
        self._work_path = work_dir
        self.runlog = log
        self._engine = engine
        self.resources: Resources | None = None
        self.cancel_reason: tuple[str, str] | None = None
        self.execution: asyncio.Task[Any] | None = None

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

    # -- durable work: the journal and child runs ----------------------------------------

    async def journal(self) -> list[Step]:
        storage = self._engine.storage
        steps: list[Step] = []
        while True:
            page = await storage.read_steps(self._run.id, len(steps), JOURNAL_PAGE)
            steps.extend(page)
            if len(page) < JOURNAL_PAGE:
                return steps

    async def record(self, steps: list[NewStep]) -> None:
        # An outage delays the journal, as it delays logs: wait for storage to return.
        delay = 0.1
        while True:
            try:
                await self._engine.storage.append_steps(self._run.id, steps)
                return
            except StorageUnavailable as exc:
                logger.warning("run %s: journal waits for storage: %s", self._run.id, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def start_child(self, task: str, data: dict[str, Any], *, key: str) -> Run:
        run = self._run
        # The key makes the start idempotent across restarts; the attempt is part of
        # it, so a retried parent starts fresh children.
        idempotency_key = f"{run.id}.{run.attempt}:{key}"
        try:
            return await self._engine.submit(
                task,
                data,
                idempotency_key=idempotency_key,
                priority=run.priority,
                submitted_by=run.submitted_by,
                parent_id=run.id,
                root_id=run.root_id,
            )
        except Conflict as exc:
            # Same key, other input: the task's defaults changed since the child was
            # started (the parent is resuming). The child that exists is the one.
            child_id = exc.details.get("id")
            if isinstance(child_id, str):
                return await self._engine.get(child_id)
            raise

    async def wait_run(self, run_id: str) -> Run:
        while True:
            run = await self._engine.wait(run_id, None)
            if run.status in TERMINAL:
                return run

    async def cancel_run(self, run_id: str, reason: str) -> Run:
        return await self._engine.cancel(run_id, reason, uid=0, admin=True)

    async def call_tool(self, name: str, params: dict[str, Any]) -> Any:
        return await self._engine.call_tool(self._run, name, params, self._log_line)

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
