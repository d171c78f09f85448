"""Benchmark 19: runs/s through ``runs.submit_many`` — 10,000 python no-op runs
accepted in one call, timed from the call until every one of them has finished — beside
benchmark 4's load (8 client processes, ``runs.submit`` with ``wait: true`` back to
back), measured on the same daemon settings in the same run, interleaved, as the
baseline. Durable in SQLite (``durability = normal``), ``--workers 8`` like row 4.
"""

from __future__ import annotations

import logging
import os
import time

import msgspec

from bench import stats
from bench.harness import BenchDaemon, running
from bench.load import Load, _busy, submit_load
from bench.report import Outcome, Row
from bench.settings import Settings
from bench.throughput import CLIENTS, DEADLINE_S, PY_PER_CLIENT, WORKERS
from seqd.client import Client
from seqd.model.status import TERMINAL

logger = logging.getLogger(__name__)

BATCH = 10_000
TARGET = 5000.0
READ_CHUNK = 1000


class Batch(msgspec.Struct, kw_only=True):
    runs: int
    failed: int
    accept_s: float
    """The ``runs.submit_many`` call alone: every run stored and queued."""
    seconds: float
    """From the call until the last run had finished."""
    daemon_cpu_s: float
    machine_busy: float

    @property
    def rate(self) -> float:
        return self.runs / self.seconds


def batch_once(daemon: BenchDaemon, n: int) -> Batch:
    """Submit ``n`` no-op runs in one call; wait until all have ended."""
    with Client(daemon.socket, timeout=600) as client:
        inputs = [{}] * n
        cpu0, busy0 = daemon.cpu_seconds(), _busy()
        t0 = time.perf_counter()
        answer = client.submit_many("bench-noop", inputs)
        accepted = time.perf_counter()
        client.wait(answer.ids[-1], timeout_s=600)  # the queue is FIFO: last in, ~last out
        ended = time.perf_counter()
        late: list[str] = []
        failed = 0
        for start in range(0, n, READ_CHUNK):  # were they all done by then?
            chunk = answer.ids[start : start + READ_CHUNK]
            for run in client.batch([("runs.get", {"id": run_id}) for run_id in chunk]):
                if isinstance(run, Exception):
                    raise run
                if run.status not in TERMINAL:
                    late.append(run.id)
                elif run.status != "succeeded":
                    failed += 1
        for run_id in late:  # rarely any: a worker still finishing its last run
            failed += client.wait(run_id, timeout_s=600).status != "succeeded"
            ended = time.perf_counter()
        cpu1, busy1 = daemon.cpu_seconds(), _busy()
    return Batch(
        runs=n,
        failed=failed,
        accept_s=accepted - t0,
        seconds=ended - t0,
        daemon_cpu_s=cpu1 - cpu0,
        machine_busy=(busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1e-9),
    )


def run(settings: Settings) -> Outcome:
    n = settings.count(BATCH, 200)
    per_client = settings.count(PY_PER_CLIENT, 10)
    batches: list[Batch] = []
    loads: list[Load] = []
    with running("batch", workers=WORKERS) as daemon:
        batch_once(daemon, settings.count(500, 20))  # warm-up: workers started, caches
        submit_load(daemon, "bench-noop", CLIENTS, settings.count(50, 5), DEADLINE_S)
        for _ in range(settings.reps):  # interleaved, so both see the same machine
            batches.append(batch_once(daemon, n))
            loads.append(submit_load(daemon, "bench-noop", CLIENTS, per_client, DEADLINE_S))
    failed = sum(b.failed for b in batches) + sum(load.failed for load in loads)
    if failed:
        raise RuntimeError(f"{failed} bench-noop runs did not succeed")
    rate = stats.median([b.rate for b in batches])
    base = stats.median([load.rate for load in loads])
    accept = stats.median([b.accept_s for b in batches])
    mid = sorted(batches, key=lambda b: b.rate)[len(batches) // 2]
    cpus = os.cpu_count() or 1
    rows = [
        Row(
            id="19a",
            name=f"python no-op, {n:,} runs in one `runs.submit_many`, call → all finished "
            f"(--workers {WORKERS})",
            figure=stats.rate(rate),
            baseline=f"{stats.rate(base)} (row 4's load, same run)",
            ratio=stats.ratio(rate, base),
            target=f"≥ {TARGET:,.0f}/s",
            met=rate >= TARGET,
        ),
        Row(
            id="19b",
            name=f"`runs.submit_many` of {n:,}: accepted (stored, queued)",
            figure=f"{stats.duration(accept)} ({stats.rate(n / accept)} accepted)",
        ),
    ]
    notes = [
        f"{settings.reps} repetitions, each of {n:,} runs of `bench-noop` submitted in one "
        f"`runs.submit_many` by one client, timed until the last had ended (a `runs.wait` "
        "on the last run, then every run read back to check it had ended and succeeded); "
        f"interleaved with row 4's load ({CLIENTS} client processes x {per_client} "
        "`runs.submit` with `wait: true`) on the same daemon. Repetitions ranged "
        f"{stats.spread([b.rate for b in batches], stats.rate)} (baseline "
        f"{stats.spread([load.rate for load in loads], stats.rate)}).",
        f"What limits it (median repetition): per run, the daemon used "
        f"{mid.daemon_cpu_s / mid.runs * 1e6:.0f} µs CPU ({mid.daemon_cpu_s / mid.seconds:.2f} "
        f"CPU over the span) and the machine was {mid.machine_busy:.0%} busy on {cpus} CPUs: "
        "after the one storage transaction that accepts the batch, each run still costs "
        "its own execution — two status writes (running, succeeded) and a round trip to a "
        "python worker process — which the batch does not share.",
    ]
    return Outcome(key="19", title="batches: runs.submit_many throughput", rows=rows, notes=notes)
