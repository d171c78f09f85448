"""Handing each ended run's spans to the tracers that want ``RunSpans``, off the run's
path: the run's end only queues it; one task reads the journals of ended runs in turn
and emits their spans. The queue is bounded: when tracers cannot keep up, runs' spans
are dropped and counted, never held without end, and no run ever waits for them.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from seqd.model import timeutil
from seqd.model.runs import Run
from seqd.model.traces import trace_of
from seqd.plugins.storage import StorageBackend
from seqd.plugins.tracing import RunSpans, TraceEvent
from seqd.trace.collect import read_journal
from seqd.trace.spans import journal_spans, run_span

logger = logging.getLogger(__name__)

MAX_PENDING = 10_000
MAX_STEPS = 10_000
"""Journal entries read per run for its spans (a longer journal is cut)."""


class SpanReporter:
    def __init__(
        self,
        storage: StorageBackend,
        emit: Callable[[TraceEvent], None],
        wants: Callable[[type[TraceEvent]], bool],
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._storage = storage
        self._emit = emit
        self._wants = wants
        self._max_pending = max_pending
        self._pending: deque[Run] = deque()
        self._task: asyncio.Task[None] | None = None
        self._unjournaled: set[str] = set()
        """Runs this daemon created whose journal is still empty: their end needs no
        read (runs from before a restart are read, whatever they hold)."""
        self.dropped = 0
        """Runs whose spans were not reported: the queue was full."""

    def created(self, run_id: str) -> None:
        """A new run, with an empty journal."""
        if self._wants(RunSpans):
            self._unjournaled.add(run_id)

    def journaled(self, run_id: str) -> None:
        """Entries were appended to the run's journal."""
        self._unjournaled.discard(run_id)

    def ended(self, run: Run) -> None:
        """``run`` has ended (stored): report its spans soon, if any tracer wants them."""
        empty = run.id in self._unjournaled
        self._unjournaled.discard(run.id)
        if not self._wants(RunSpans):
            return
        if empty:
            spans = [run_span(run)]
            self._emit(RunSpans(ts=timeutil.now(), run_id=run.id, trace_id=spans[0].trace_id,
                                spans=spans))  # fmt: skip
            return
        if len(self._pending) >= self._max_pending:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.warning("tracers fall behind: spans of %d run(s) dropped", self.dropped)
            return
        self._pending.append(run)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self._pending:
                run = self._pending.popleft()
                try:
                    steps = await read_journal(self._storage, run.id, MAX_STEPS)
                    spans = [run_span(run), *journal_spans(run, steps)]
                except Exception as exc:
                    logger.warning("run %s: cannot read its spans: %s", run.id, exc)
                    continue
                self._emit(
                    RunSpans(ts=timeutil.now(), run_id=run.id, trace_id=trace_of(run), spans=spans)
                )
        finally:
            self._task = None

    async def stop(self, timeout_s: float) -> None:
        """Report what is queued, for at most ``timeout_s``; drop the rest."""
        task = self._task
        if task is None:
            return
        _, still = await asyncio.wait([task], timeout=timeout_s)
        if still:
            self.dropped += len(self._pending)
            self._pending.clear()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
