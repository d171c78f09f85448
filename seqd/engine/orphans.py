"""Finding and ending the processes a previous daemon's runs left behind: those that
were running when it died (shell commands outlive the daemon by design).

Every process a run starts carries ``SEQD_RUN_ID`` in its environment, so one pass
over ``/proc`` finds them — no pid has to be written to storage while the run lives,
and a recycled pid is never hit. Its own module because it is blocking ``/proc`` work
(run in a thread at start-up), apart from the engine's asyncio code.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterable, Iterator

logger = logging.getLogger(__name__)

PROC = "/proc"


def find_run_processes(run_ids: Iterable[str]) -> dict[str, set[int]]:
    """Process groups per run id, from the environments of all visible processes."""
    wanted = {f"SEQD_RUN_ID={r}".encode(): r for r in run_ids}
    found: dict[str, set[int]] = {}
    if not wanted:
        return found
    me = os.getpid()
    for pid, env in _proc_files("environ"):
        if pid == me:
            continue
        for item in env.split(b"\0"):
            run_id = wanted.get(item)
            if run_id is not None:
                try:
                    found.setdefault(run_id, set()).add(os.getpgid(pid))
                except ProcessLookupError:
                    pass
                break
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
    _signal(groups, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not live_groups(groups):
            return found
        time.sleep(0.02)
    _signal(groups, signal.SIGKILL)
    return found


def _signal(groups: Iterable[int], sig: int) -> None:
    for group in groups:
        try:
            os.killpg(group, sig)
        except (ProcessLookupError, PermissionError):
            pass


def live_groups(groups: set[int]) -> set[int]:
    """Which of ``groups`` still have a member that is not a zombie. An orphan that
    exited stays a zombie until whatever adopted it reaps it (in a container that may
    be never): it no longer runs, so it does not count."""
    alive: set[int] = set()
    for _pid, stat in _proc_files("stat"):
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) < 3 or fields[0] in (b"Z", b"X"):
            continue
        group = int(fields[2])
        if group in groups:
            alive.add(group)
    return alive


def _proc_files(name: str) -> Iterator[tuple[int, bytes]]:
    """``(pid, content of /proc/<pid>/<name>)`` for every process that could be read."""
    for entry in os.listdir(PROC):
        if not entry.isdigit():
            continue
        try:
            with open(f"{PROC}/{entry}/{name}", "rb") as fh:
                content = fh.read()
        except OSError:
            continue
        yield int(entry), content
