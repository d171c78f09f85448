"""The one way a run's status changes: written to storage first (compare-and-set on the
previous status, riding out an outage), then to the in-memory table of live runs, then
reported as a ``RunTransition`` trace event.

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
from seqd.plugins.host import PluginHost
from seqd.plugins.storage import StorageBackend
from seqd.plugins.tracing import RunTransition

logger = logging.getLogger(__name__)


class Measured(Protocol):
    """An attempt that ran (the engine's ``ActiveJob``): what it used."""

    resources: Resources | None


class Transitions:
    def __init__(
        self, storage: StorageBackend, host: PluginHost, ended: Callable[[Run], None]
    ) -> None:
        self.storage = storage
        self.host = host
        self._ended = ended
        """Called with the final record once a run has ended (its waiters wake)."""
        self.live: dict[str, Run] = {}
        """Runs that are queued or running, as last stored (plus the pid while it runs)."""
        self.stopping = False
        """Set when shutdown begins: a write then gives up after a few tries."""

    def emit(self, run: Run, previous: str | None, reason: str | None = None) -> None:
        if not self.host.wants(RunTransition):
            return
        self.host.emit(
            RunTransition(
                ts=timeutil.now(),
                run_id=run.id,
                task=run.task,
                from_status=previous,
                to_status=run.status,
                reason=reason,
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
        The record carries what ``job`` used, if an attempt ran."""
        final = replace(
            run,
            status=status,
            output=output,
            error=error,
            finished_at=timeutil.now(),
            pid=None,
            resources=job.resources if job is not None else run.resources,
        )
        if not await self.store(final, expect):
            return None
        self.live.pop(run.id, None)
        self.emit(final, run.status)
        self._ended(final)
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
