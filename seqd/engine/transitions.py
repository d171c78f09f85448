"""The one way a run's status changes: written to storage first (compare-and-set on the
previous status, riding out an outage), then to the in-memory table of live runs, then
counted (``seqd.observe.runs``) and reported as a ``RunTransition`` trace event.

Its own module because every part of the engine (execution, retries, suspension,
cancellation, recovery) changes status, and the durability rule must hold the same
way for all of them. Runs are immutable snapshots: a transition makes a new ``Run``, so
a value handed to storage never changes under it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from msgspec.structs import replace

from seqd.errors import StorageUnavailable
from seqd.model import timeutil
from seqd.model.runs import Resources, Run, RunError, RunStatus
from seqd.model.status import TERMINAL
from seqd.model.traces import run_span_id, trace_of
from seqd.observe.runs import RunMetrics
from seqd.plugins.host import PluginHost
from seqd.plugins.storage import StorageBackend
from seqd.plugins.tracing import RunTransition
from seqd.trace.reporter import SpanReporter

logger = logging.getLogger(__name__)


MAX_LOGGED_MESSAGE = 300
"""An error message is cut to this many characters in the daemon's log (the run
record keeps all of it)."""


def about(run: Run) -> str:
    """How the daemon's log names a run: its id and its task."""
    return f"run {run.id} of task {run.task}"


def explain(error: RunError) -> str:
    """An error in the daemon's log: its type, then its message on one short line."""
    message = " ".join(error.message.split())
    if len(message) > MAX_LOGGED_MESSAGE:
        message = message[: MAX_LOGGED_MESSAGE - 1] + "…"
    return f"({error.type}): {message}"


class Measured(Protocol):
    """An attempt that ran (the engine's ``ActiveJob``): what it used."""

    resources: Resources | None

    @property
    def running_s(self) -> float:
        """The run's time executing so far, this execution included."""
        ...


class Transitions:
    def __init__(
        self,
        storage: StorageBackend,
        host: PluginHost,
        ended: Callable[[Run], None],
        metrics: RunMetrics | None = None,
    ) -> None:
        self.storage = storage
        self.host = host
        self.metrics = metrics if metrics is not None else RunMetrics()
        """Counts and times every stored change (``emit`` tells it)."""
        self._ended = ended
        """Called with the final record once a run has ended (its waiters wake)."""
        self.live: dict[str, Run] = {}
        """Runs that are queued or running, as last stored (plus the pid while it runs)."""
        self.stopping = False
        """Set when shutdown begins: a write then gives up after a few tries."""
        self.spans = SpanReporter(storage, host.emit, host.wants)
        """Reports each ended run's spans to the tracers that want them."""

    def emit(self, run: Run, previous: str | None, reason: str | None = None) -> None:
        """Report a change that is stored: to the run metrics, then to tracers."""
        self.metrics.transition(run, previous)
        if not self.host.wants(RunTransition):
            return
        ts = timeutil.now()
        self.host.emit(
            RunTransition(
                ts=ts,
                run_id=run.id,
                task=run.task,
                from_status=previous,
                to_status=run.status,
                reason=reason,
                trace_id=trace_of(run),
                span_id=run_span_id(run.id),
                parent_span_id=run.parent_span_id,
                start=run.created_at,
                end=(run.finished_at or ts) if run.status in TERMINAL else None,
            )
        )

    async def finish(
        self,
        run: Run,
        status: RunStatus,
        *,
        output: Any = None,
        error: RunError | None = None,
        expect: Sequence[RunStatus],
        job: Measured | None = None,
    ) -> Run | None:
        """End ``run`` with ``status``; None if it was no longer in an ``expect`` status.
        The record carries what ``job`` used, if an attempt ran; no secret value is in
        its output or error (``Secrets.redact_value``)."""
        secrets = self.host.secrets
        if secrets.active:
            output, error = secrets.redact_value(output), secrets.redact_value(error)
        final = replace(
            run,
            status=status,
            output=output,
            error=error,
            finished_at=timeutil.now(),
            pid=None,
            resources=job.resources if job is not None else run.resources,
            running_s=job.running_s if job is not None else run.running_s,
        )
        if not await self.store(final, expect):
            return None
        self.live.pop(run.id, None)
        if status == "failed" and error is not None:
            logger.warning("%s failed %s", about(final), explain(error))
        self.emit(final, run.status)
        self._ended(final)
        self.spans.ended(final)
        return final

    async def store(self, run: Run, expect: Sequence[RunStatus]) -> bool:
        """Write a transition, riding out a storage outage: the run's outcome waits in
        memory until storage is back (after shutdown began, a few tries only; the run
        is then still unfinished in storage and runs again at the next start)."""
        delay = 0.2
        tries_after_stop = 5
        failed_before = False
        while True:
            try:
                if await self.storage.update_run(run, expect=expect):
                    return True
                if not failed_before:
                    return False
                # A write reported as failed may still have committed (the connection
                # broke after the commit): then the stored record is ours. It is written
                # once more, so that its change is announced (events) like any other.
                if await self.storage.get_run(run.id) != run:
                    return False
                return await self.storage.update_run(run, expect=(run.status,)) > 0
            except StorageUnavailable as exc:
                failed_before = True
                if self.stopping:
                    tries_after_stop -= 1
                    if tries_after_stop <= 0:
                        logger.error("run %s: could not store %s: %s", run.id, run.status, exc)
                        return False
                logger.warning("run %s: %s waits for storage: %s", run.id, run.status, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
