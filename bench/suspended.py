"""Benchmark 13: 10,000 runs suspended on durable timers.

10,000 runs of a python task that calls ``ctx.sleep(3600)`` are submitted; each runs
once, journals its due time, suspends and frees its worker. Once all are suspended the
daemon's RSS is read (against the same daemon before the runs were submitted) and its
CPU time is measured over 10 idle seconds. Then the daemon is restarted on the same
store, to see what the suspended runs cost a fresh daemon (they are re-armed from their
records, not replayed).
"""

from __future__ import annotations

import time

from bench import stats
from bench.harness import BenchDaemon, running
from bench.report import Outcome, Row
from bench.settings import Settings
from seqd.client import Client

RUNS = 10_000
IDLE_S = 10.0


def submit_all(client: Client, n: int) -> None:
    batch = 500
    for start in range(0, n, batch):
        calls = [("runs.submit", {"task": "bench-sleeper"})] * min(batch, n - start)
        for result in client.batch(calls):
            if isinstance(result, Exception):
                raise result


def wait_suspended(client: Client, n: int, timeout: float = 600) -> float:
    t0 = time.perf_counter()
    while True:
        counts = client.status().runs
        if counts.get("suspended", 0) >= n:
            return time.perf_counter() - t0
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError(f"only {counts.get('suspended', 0)} of {n} suspended: {counts}")
        time.sleep(0.5)


def idle_cpu(daemon: BenchDaemon, seconds: float) -> float:
    before = daemon.cpu_seconds()
    time.sleep(seconds)
    return daemon.cpu_seconds() - before


def run(settings: Settings) -> Outcome:
    n = settings.count(RUNS, 100)
    idle = IDLE_S if settings.reps > 1 else 2.0
    with running("suspended", workers=4) as daemon:
        with Client(daemon.socket, timeout=300) as client:
            client.submit("bench-noop", wait=True, timeout_s=60)  # the pool is up
            rss_before = daemon.rss()
            cpu_empty = idle_cpu(daemon, idle)
            t0 = time.perf_counter()
            submit_all(client, n)
            wait_suspended(client, n)
            elapsed = time.perf_counter() - t0
            rss_after = daemon.rss()
            cpu_idle = idle_cpu(daemon, idle)
            busy = client.status().workers.busy
        daemon.stop()
        daemon.start()
        with Client(daemon.socket, timeout=300) as client:
            wait_suspended(client, n)
            rss_restarted = daemon.rss()
            cpu_restarted = idle_cpu(daemon, idle)
    per_run = (rss_after - rss_before) / n
    rows = [
        Row(
            id="13a",
            name=f"daemon RSS with {n:,} runs suspended on timers",
            figure=stats.mib(rss_after),
            baseline=f"{stats.mib(rss_before)} (before submitting)",
            ratio=stats.ratio(rss_after, rss_before),
        ),
        Row(
            id="13b",
            name=f"daemon CPU while {n:,} runs sleep, per second",
            figure=stats.ms(cpu_idle / idle),
            baseline=f"{stats.ms(cpu_empty / idle)} (no runs)",
        ),
        Row(
            id="13c",
            name=f"after a restart: RSS / CPU per second with {n:,} suspended",
            figure=f"{stats.mib(rss_restarted)} / {stats.ms(cpu_restarted / idle)}",
        ),
    ]
    notes = [
        f"{n:,} runs of `bench-sleeper` (`ctx.sleep(3600)`), 4 workers; each ran once, "
        f"journaled its due time and suspended; all suspended {elapsed:.1f} s after the "
        f"first submit ({n / max(elapsed, 1e-9):,.0f} runs/s through the run-suspend "
        f"cycle). Workers busy once all slept: {busy}.",
        f"Memory per suspended run in the daemon: about {per_run:,.0f} bytes (a heap "
        "entry for its due time; the run itself is only in storage). CPU measured over "
        f"{idle:g} s with psutil (the daemon process, all its threads): one loop timer "
        "for the earliest due time, no polling.",
    ]
    return Outcome(key="13", title="10,000 suspended runs", rows=rows, notes=notes)
