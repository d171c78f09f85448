"""Recovery at start-up: every run an earlier daemon accepted and did not finish is put
back. Queued runs go back in line; running ones too, once the processes they left are
ended and their work directories cleared; suspended ones are watched again.

Its own module because it runs once, before anything new is accepted, and reads
storage in bulk rather than run by run.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence

from msgspec.structs import replace

from seqd.model import timeutil
from seqd.model.runs import NewLogLine, Run
from seqd.plugins.storage import StorageBackend

from .orphans import end_orphans
from .transitions import Transitions

logger = logging.getLogger(__name__)


async def recover(
    runs: Sequence[Run],
    *,
    storage: StorageBackend,
    transitions: Transitions,
    enqueue: Callable[[Run], None],
    watch: Callable[[Run, bool], None],
    work_root: str,
    grace_s: float,
) -> None:
    """Put the unfinished ``runs`` back: in ``transitions.live`` and ``enqueue``d
    when they are to run, ``watch``ed (recovering) when they are suspended. Processes
    left by runs that were running get ``grace_s`` between SIGTERM and SIGKILL."""
    started = time.perf_counter()
    interrupted = [r.id for r in runs if r.status == "running"]
    if interrupted:
        await asyncio.to_thread(end_orphans, interrupted, grace_s)
        # Their next attempt starts clean (no output of the lost attempt).
        for run_id in interrupted:
            await asyncio.to_thread(shutil.rmtree, os.path.join(work_root, run_id), True)
    for run in runs:
        if run.status == "suspended":
            watch(run, True)
            continue
        if run.status == "running":
            # started_at stays: the run's wall time goes on. The time this execution
            # ran is not in running_s: its end, the crash, is unknown.
            again = replace(run, status="queued", pid=None)
            if not await storage.update_run(again, expect=("running",)):
                continue
            await storage.append_logs(
                run.id,
                [
                    NewLogLine(
                        ts=timeutil.now(),
                        stream="system",
                        text="the daemon stopped while this run was running; it runs again",
                    )
                ],
            )
            transitions.emit(again, "running", "recovered")
            run = again
        if run.status != "queued":
            continue
        transitions.live[run.id] = run
        enqueue(run)
    if runs:
        logger.info(
            "recovered %d unfinished run(s) in %.1f ms: %d queued or running again, %d suspended",
            len(runs),
            (time.perf_counter() - started) * 1000,
            len(transitions.live),
            sum(1 for r in runs if r.status == "suspended"),
        )
