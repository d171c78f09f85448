"""Benchmark 3: submit → task start on an idle daemon.

A python task returns ``time.time()`` as the first thing ``run()`` does; a shell task is
``date +%s.%N``. Latency = that time - the client's ``time.time()`` just before it sends
``runs.submit``. Sequential runs, after a warm-up, so the daemon is idle at each submit.
"""

from __future__ import annotations

import logging
import subprocess
import time

from bench import stats
from bench.harness import running
from bench.report import Outcome, Row
from bench.settings import Settings
from seqd.client import Client

logger = logging.getLogger(__name__)

PER_REP = 100
WARMUP = 20
TARGET_S = 0.002


def python_start(client: Client) -> tuple[float, float]:
    """(start latency, whole submit-and-wait round trip) of one ``bench-now`` run."""
    t0 = time.time()
    run = client.submit("bench-now", wait=True, timeout_s=30)
    t1 = time.time()
    if run.status != "succeeded" or not isinstance(run.output, float):
        raise RuntimeError(f"bench-now ended {run.status}: {run.error}")
    return run.output - t0, t1 - t0


def shell_start(client: Client) -> tuple[float, float]:
    t0 = time.time()
    run = client.submit("bench-now-shell", wait=True, timeout_s=30)
    t1 = time.time()
    if run.status != "succeeded":
        raise RuntimeError(f"bench-now-shell ended {run.status}: {run.error}")
    lines = [line for line in client.logs(run.id).lines if line.stream == "stdout"]
    if not lines:
        raise RuntimeError(f"bench-now-shell run {run.id} logged no time")
    return float(lines[0].text.strip()) - t0, t1 - t0


def spawn_baseline() -> float:
    """``date +%s.%N`` started by ``subprocess.run`` from this (small) process: what
    starting the command costs with no daemon in between."""
    t0 = time.time()
    out = subprocess.run(["date", "+%s.%N"], capture_output=True, check=True, timeout=30)
    return float(out.stdout) - t0


def run(settings: Settings) -> Outcome:
    per_rep = settings.count(PER_REP, 5)
    kinds = {"python": python_start, "shell": shell_start}
    spawn: list[float] = []
    p50s: dict[str, list[float]] = {k: [] for k in kinds}
    p99s: dict[str, list[float]] = {k: [] for k in kinds}
    trips: dict[str, list[float]] = {k: [] for k in kinds}
    with running("latency") as daemon, Client(daemon.socket, timeout=60) as client:
        for probe in kinds.values():
            for _ in range(settings.count(WARMUP, 3)):
                probe(client)
        for _ in range(settings.reps):
            for kind, probe in kinds.items():
                samples = [probe(client) for _ in range(per_rep)]
                p50s[kind].append(stats.percentile([s[0] for s in samples], 50))
                p99s[kind].append(stats.percentile([s[0] for s in samples], 99))
                trips[kind].append(stats.percentile([s[1] for s in samples], 50))
            spawn.append(stats.median([spawn_baseline() for _ in range(per_rep)]))
        workers = client.status().workers
    py50, sh50, spawn50 = (
        stats.median(p50s["python"]),
        stats.median(p50s["shell"]),
        stats.median(spawn),
    )
    rows = [
        Row(
            id="3a",
            name="submit → start, python task, idle daemon (p50)",
            figure=stats.ms(py50),
            target="≤ 2 ms",
            met=py50 <= TARGET_S,
        ),
        Row(
            id="3b",
            name="submit → start, shell task, idle daemon (p50)",
            figure=stats.ms(sh50),
            baseline=f"{stats.ms(spawn50)} (`subprocess.run` of date)",
            ratio=stats.ratio(sh50, spawn50),
            target="≤ 2 ms",
            met=sh50 <= TARGET_S,
        ),
    ]
    notes = [
        f"{settings.reps} repetitions of {per_rep} sequential runs of each kind "
        f"(`bench-now`: python returning `time.time()`; `bench-now-shell`: `date +%s.%N`) "
        f"after {settings.count(WARMUP, 3)} warm-up runs each; submit with `wait: true` "
        "through `seqd.client.Client`, so the daemon is idle at every submit.",
        "Repetition p50s ranged "
        + ", ".join(f"{k} {stats.spread(v, stats.ms)}" for k, v in p50s.items())
        + "; p99: "
        + ", ".join(f"{k} {stats.ms(stats.median(v))}" for k, v in p99s.items())
        + "; whole submit-and-wait round trip p50: "
        + ", ".join(f"{k} {stats.ms(stats.median(v))}" for k, v in trips.items())
        + ".",
        "What it includes: request encode/decode, the durable insert of the queued run and "
        "of the running transition (on an idle store each a commit on the event loop at "
        "the end of its turn, decisions 36-37), the queue "
        "hand-off, then for python the pipe message to the prestarted worker and the "
        "call; for shell the frame to the spawner process, its `posix_spawn` of the "
        "command, `date` starting up and the frame back.",
        "Shell baseline: the same `date +%s.%N` started with `subprocess.run` from the "
        "bench process, measured the same way; the difference is the daemon's own "
        "cost of starting a shell run.",
        f"python pool at the end: {workers.pools.get('python', {})}.",
    ]
    return Outcome(key="3", title="submit → task start, idle daemon", rows=rows, notes=notes)
