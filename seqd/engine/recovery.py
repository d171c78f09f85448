"""Finding what a previous daemon left behind: process groups of runs that were
running when it died. A group is only signalled when its leader still carries the
run's id in its environment, so a recycled pid is never hit."""

from __future__ import annotations

import logging
import os
import signal
import time

import psutil

logger = logging.getLogger(__name__)


def belongs_to_run(pid: int, run_id: str) -> bool:
    try:
        env = psutil.Process(pid).environ()
    except (psutil.Error, OSError):
        return False
    return env.get("SEQD_RUN_ID") == run_id


def end_orphan(pid: int, run_id: str, grace_s: float = 5.0) -> bool:
    """End the process group ``pid`` of ``run_id`` if it is still there: SIGTERM, then
    SIGKILL after ``grace_s``. Returns whether anything was found."""
    if not belongs_to_run(pid, run_id):
        return False
    logger.warning("run %s: ending process group %d left by a previous daemon", run_id, pid)
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid):
            return True
        time.sleep(0.05)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return True
