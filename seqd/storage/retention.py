"""Retention: pruning finished run trees, on request (``runs.prune``) and on the
``[retention]`` schedule.

Its own module because a prune is many short storage calls (``prune_runs``, one batch
each, bounded by ``retention.batch``) walked to the end with their cursor: between two
calls the daemon serves everything else, so a prune of a hundred thousand runs never
holds the loop, the writer or a client for more than one batch. One prune runs at a
time. Each batch also removes what a run may have left in its work folder.

What makes it safe beside the engine: a tree goes only once every run in it finished,
checked by the store in the same step as the removal, so a run that is retried
(``retry_of`` points at the run, which may then be pruned: the link is history, not a
dependency) or adopted by its parent (a child of a live run is in a live tree) is never
removed under the engine. The idempotency key of a pruned run is free again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from collections.abc import Sequence

from seqd.config.settings import Retention
from seqd.model.durations import format_duration
from seqd.model.ids import first_id_at
from seqd.model.retention import PruneQuery, PruneTotals
from seqd.model.runs import RunStatus
from seqd.model.status import TERMINAL
from seqd.model.timeutil import format_ts
from seqd.plugins.storage import StorageBackend

logger = logging.getLogger(__name__)

FINISHED: tuple[RunStatus, ...] = ("succeeded", "failed", "cancelled")
FIRST_PASS_AFTER_S = 60.0
"""The schedule's first pass comes this long after start-up at most (``every`` if that
is shorter): start-up and the runs it recovered go first."""
PAUSE_S = 0.005
"""Between two batches of the schedule, so that it stays in the background."""


class Pruner:
    """Prunes ``storage`` in batches of ``batch`` runs; one prune at a time."""

    def __init__(self, storage: StorageBackend, work_root: str, batch: int) -> None:
        self.storage = storage
        self.work_root = work_root
        self.batch = batch
        self._one = asyncio.Lock()

    async def prune(
        self,
        older_than_s: float,
        statuses: Sequence[RunStatus] = FINISHED,
        task: str | None = None,
        dry_run: bool = False,
        pause_s: float = 0.0,
    ) -> PruneTotals:
        """Remove (or with ``dry_run`` count) the trees whose root ended in one of
        ``statuses`` (of ``task``) more than ``older_than_s`` seconds ago."""
        cutoff = time.time() - older_than_s
        totals = PruneTotals()
        async with self._one:
            for status in dict.fromkeys(statuses):
                assert status in TERMINAL, status
                query = PruneQuery(
                    status=status,
                    finished_before=format_ts(cutoff),
                    before_id=first_id_at(cutoff),
                    task=task,
                    limit=self.batch,
                    dry_run=dry_run,
                )
                while True:
                    batch = await self.storage.prune_runs(query)
                    totals.add(batch)
                    if batch.removed and not dry_run:
                        await asyncio.to_thread(self._clear_work, batch.removed)
                    if batch.cursor is None:
                        break
                    query.after = batch.cursor
                    await asyncio.sleep(pause_s)
        return totals

    def _clear_work(self, run_ids: list[str]) -> None:
        """What pruned runs left in their work folders (a crash between a run's end
        and the removal of its folder; in a thread)."""
        for run_id in run_ids:
            path = os.path.join(self.work_root, run_id)
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)


class RetentionSchedule:
    """Applies ``[retention]`` every ``retention.every`` in the background."""

    def __init__(self, pruner: Pruner, policy: Retention) -> None:
        self.pruner = pruner
        self.policy = policy
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        ages = {s: self.policy.keep_s(s) for s in FINISHED}
        if all(age is None for age in ages.values()):
            logger.info("retention: every finished run is kept forever")
            return
        kept = (f"{s} {'forever' if a is None else format_duration(a)}" for s, a in ages.items())
        logger.info("retention: %s, pruned every %s", ", ".join(kept), self.policy.every)
        self._task = asyncio.get_running_loop().create_task(self._run(ages))

    async def _run(self, ages: dict[RunStatus, float | None]) -> None:
        await asyncio.sleep(min(FIRST_PASS_AFTER_S, self.policy.every_s()))
        while True:
            for status, age in ages.items():
                if age is None:
                    continue
                try:
                    done = await self.pruner.prune(age, [status], pause_s=PAUSE_S)
                except Exception as exc:  # storage away: the next pass tries again
                    logger.warning("retention: pruning %s runs failed: %s", status, exc)
                    continue
                if done.runs:
                    logger.info(
                        "retention: pruned %d %s run(s) older than %s (%d log lines, "
                        "%d journal entries, %d bytes)", done.runs, status,
                        format_duration(age), done.log_lines, done.steps, done.bytes_freed,
                    )  # fmt: skip
            await asyncio.sleep(self.policy.every_s())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
