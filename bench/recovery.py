"""Benchmark 11: recovery after a crash with 10,000 unfinished runs.

10,000 runs of a task that sleeps a minute are submitted to a daemon with 4 workers (so
4 are running, the rest queued); the daemon is SIGKILLed and started again on the same
store. The figure is the engine's own measure of ``recover()`` — from reading the
unfinished runs to every one of them queued or running again (orphaned commands
ended, interrupted runs re-queued) — which the daemon logs; the time from the new
process's start to its first answered ping is reported beside it, against the same
start on an empty store.
"""

from __future__ import annotations

import re
import signal
import time

from bench import stats
from bench.harness import BenchDaemon, running, temp_base
from bench.report import Outcome, Row
from bench.settings import Settings
from seqd.client import Client

RUNS = 10_000
TARGET_S = 1.0
_RECOVERED = re.compile(r"recovered (\d+) unfinished run\(s\) in ([\d.]+) ms")


def fill(client: Client, n: int) -> None:
    batch = 500
    for start in range(0, n, batch):
        calls = [("runs.submit", {"task": "bench-sleep"})] * min(batch, n - start)
        for result in client.batch(calls):
            if isinstance(result, Exception):
                raise result


def crash_and_restart(daemon: BenchDaemon, runs: int) -> tuple[float, float]:
    """(recover() seconds from the log, process start → first ping answered)."""
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGKILL)
    daemon.proc.wait()
    before = daemon.log_path.read_text(errors="replace")
    t0 = time.perf_counter()
    daemon.start()
    ready = time.perf_counter() - t0
    found = _RECOVERED.findall(daemon.log_path.read_text(errors="replace")[len(before) :])
    if not found:
        raise RuntimeError(f"no recovery line in the log:\n{daemon.log_tail()}")
    count, ms = found[-1]
    if int(count) < runs:
        raise RuntimeError(f"recovered only {count} of {runs} runs")
    return float(ms) / 1000, ready


def empty_start() -> float:
    with temp_base("recovery-empty") as base:
        daemon = BenchDaemon(base, workers=4)
        t0 = time.perf_counter()
        daemon.start()
        ready = time.perf_counter() - t0
        daemon.stop()
        return ready


def run(settings: Settings) -> Outcome:
    n = settings.count(RUNS, 100)
    recover: list[float] = []
    ready: list[float] = []
    empty: list[float] = []
    with running("recovery", workers=4) as daemon:
        with Client(daemon.socket, timeout=120) as client:
            fill(client, n)
        for _ in range(settings.reps):
            r, t = crash_and_restart(daemon, n)
            recover.append(r)
            ready.append(t)
            empty.append(empty_start())
        with Client(daemon.socket, timeout=120) as client:
            counts = client.status().runs
    rec50, ready50, empty50 = stats.median(recover), stats.median(ready), stats.median(empty)
    rows = [
        Row(
            id="11a",
            name=f"recovery of {n:,} unfinished runs after SIGKILL (engine)",
            figure=stats.ms(rec50),
            target="≤ 1 s",
            met=rec50 <= TARGET_S,
        ),
        Row(
            id="11b",
            name=f"restart → first ping answered, {n:,} unfinished runs",
            figure=stats.ms(ready50),
            baseline=f"{stats.ms(empty50)} (empty store)",
            ratio=stats.ratio(ready50, empty50),
        ),
    ]
    notes = [
        f"{settings.reps} crash/restart cycles of one store holding {n:,} unfinished runs of "
        "`bench-sleep` (a shell `sleep 60`), 4 workers: at each SIGKILL 4 are running "
        "(their commands are found by SEQD_RUN_ID and ended at the restart) and the rest "
        "queued. SQLite store, durability normal.",
        "11a is what the daemon logs for `recover()`: reading every unfinished run, ending "
        "orphaned commands, re-queuing the interrupted runs (compare-and-set each), "
        "putting all of them in line. Ranged " + stats.spread(recover, stats.ms) + ".",
        f"Runs by status at the end: {dict(counts)}.",
    ]
    return Outcome(key="11", title="recovery after a crash", rows=rows, notes=notes)
