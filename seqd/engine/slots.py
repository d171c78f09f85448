"""Handing queued runs to worker slots: the engine's hot path. Priority first, then
submission order (``RunQueue``); per-task concurrency limits; runs of task types that
hold no worker (flows) start at once. A slot freed starts the next run.

Its own module (a base of ``Engine``) because it is one job — the hand-off from the
line to an execution — and the one the engine does most often.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import TYPE_CHECKING

from seqd.catalog.catalog import Catalog
from seqd.model.runs import Run
from seqd.plugins.host import PluginHost

from .job import ActiveJob
from .queue import RunQueue

if TYPE_CHECKING:
    from .cluster import ClusterLink
    from .execution import Executor
    from .retries import Retries
    from .transitions import Transitions

logger = logging.getLogger(__name__)


class Slots:
    """The engine's slots; ``Engine`` sets these attributes up."""

    catalog: Catalog
    host: PluginHost
    max_workers: int
    queue: RunQueue
    free_queue: RunQueue
    holding: set[str]
    active: dict[str, ActiveJob | None]
    per_task: Counter[str]
    dispatching: bool
    _executions: set[asyncio.Task[None]]
    transitions: Transitions
    executor: Executor
    cluster: ClusterLink | None
    retries: Retries

    def _saturated(self, task: str) -> bool:
        entry = self.catalog.entries.get(task)
        limit = entry.definition.concurrency if entry is not None else None
        return limit is not None and self.per_task[task] >= limit

    def _holds_worker(self, task: str) -> bool:
        entry = self.catalog.entries.get(task)
        if entry is None or entry.source is None:
            return True
        task_type = self.host.task_types.get(entry.source.type)
        return bool(getattr(task_type, "uses_worker", True))

    def enqueue(self, run: Run) -> None:
        queue = self.queue if self._holds_worker(run.task) else self.free_queue
        queue.push(run.id, run.task, run.priority)

    def _hand_off(self, run: Run) -> None:
        """Put a queued run in line and start what can start."""
        self.enqueue(run)
        self.schedule()

    def take_back(self, run_id: str) -> None:
        """A queued run leaves the line (and its retry back-off)."""
        self.queue.remove(run_id)
        self.free_queue.remove(run_id)
        self.retries.forget(run_id)

    def schedule(self) -> None:
        while self.dispatching:
            item = self.free_queue.pop(self._saturated)
            if item is None:
                break
            self._launch(*item, holds_worker=False)
        while self.dispatching and len(self.holding) < self.max_workers:
            item = self.queue.pop(self._saturated)
            if item is None:
                return
            self._launch(*item, holds_worker=True)

    def _launch(self, run_id: str, task: str, *, holds_worker: bool) -> None:
        run = self.transitions.live.get(run_id)
        if run is None or run.status != "queued":
            return
        self.active[run_id] = None
        if holds_worker:
            self.holding.add(run_id)
        self.per_task[task] += 1
        execution = asyncio.get_running_loop().create_task(self._execute(run))
        self._executions.add(execution)
        execution.add_done_callback(self._executions.discard)

    async def _execute(self, run: Run) -> None:
        """One slot's life: the run's execution, then the slot goes to the next run."""
        try:
            await self.executor.execute(run)
        except Exception as exc:
            logger.exception("run %s: engine failure", run.id)
            await self.executor.fail(run.id, exc)
        finally:
            self.active.pop(run.id, None)
            self.holding.discard(run.id)
            self.per_task[run.task] -= 1
            if self.per_task[run.task] <= 0:
                del self.per_task[run.task]
            self.queue.release(run.task)
            self.free_queue.release(run.task)
            self.schedule()
            if self.cluster is not None:
                if not self.cluster.owns(run.id):  # taken over meanwhile: not ours to show
                    self.transitions.live.pop(run.id, None)
                self.cluster.kick()
