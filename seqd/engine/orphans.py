"""Finding and ending the processes a previous daemon's runs left behind: those that
were running when it died (shell commands outlive the daemon by design).

Every process a run starts carries ``SEQD_RUN_ID`` in its environment, so one pass
over the process table (``psutil``) finds them — no pid has to be written to storage
while the run lives, and a recycled pid is never hit. Its own module because it is
blocking work (run in a thread at start-up), apart from the engine's asyncio code.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterable

import psutil

from seqd.runtime.procs import kill_group

logger = logging.getLogger(__name__)


def find_run_processes(run_ids: Iterable[str]) -> dict[str, set[int]]:
    """Process groups per run id, from the environments of all visible processes."""
    wanted = set(run_ids)
    found: dict[str, set[int]] = {}
    if not wanted:
        return found
    me = os.getpid()
    for proc in psutil.process_iter():
        if proc.pid == me:
            continue
        try:
            run_id = proc.environ().get("SEQD_RUN_ID")
            if run_id in wanted:
                found.setdefault(run_id, set()).add(os.getpgid(proc.pid))
        except (psutil.Error, ProcessLookupError):
            continue  # gone, or not ours to read
    return found


def end_orphans(run_ids: Iterable[str], grace_s: float = 5.0) -> dict[str, set[int]]:
    """End every process group left by ``run_ids``: SIGTERM, then SIGKILL after
    ``grace_s``. Returns what was found."""
    found = find_run_processes(run_ids)
    groups = {g for gs in found.values() for g in gs}
    if not groups:
        return found
    for run_id, gs in found.items():
        logger.warning(
            "run %s: ending process group(s) %s left by a previous daemon", run_id, sorted(gs)
        )
    for group in groups:
        kill_group(group, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not live_groups(groups):
            return found
        time.sleep(0.02)
    for group in groups:
        kill_group(group, signal.SIGKILL)
    return found


def live_groups(groups: set[int]) -> set[int]:
    """Which of ``groups`` still have a member that is not a zombie. An orphan that
    exited stays a zombie until whatever adopted it reaps it (in a container that may
    be never): it no longer runs, so it does not count."""
    alive: set[int] = set()
    for proc in psutil.process_iter(["status"]):
        if proc.info["status"] in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
            continue
        try:
            group = os.getpgid(proc.pid)
        except ProcessLookupError:
            continue
        if group in groups:
            alive.add(group)
    return alive
