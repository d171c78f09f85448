"""Benchmark 10: per-state overhead of flows.

A flow of 100 no-op python states in sequence, and a parallel state of 100 no-op
branches, each submitted and waited for end to end; against 100 separate
submit-and-wait calls of the same no-op task measured in the same run. Each state is a
child run (stored queued → running → succeeded) plus its journal entries, so the
sequential flow pays the same durable writes as the separate calls, minus the client
round trips.
"""

from __future__ import annotations

import time

from bench import stats
from bench.harness import running
from bench.report import Outcome, Row
from bench.settings import Settings
from seqd.client import Client

STATES = 100


def timed_flow(client: Client, task: str) -> float:
    t0 = time.perf_counter()
    run = client.submit(task, wait=True, timeout_s=300)
    elapsed = time.perf_counter() - t0
    if run.status != "succeeded":
        raise RuntimeError(f"{task} ended {run.status}: {run.error}")
    return elapsed


def timed_calls(client: Client) -> float:
    t0 = time.perf_counter()
    for _ in range(STATES):
        run = client.submit("bench-noop", wait=True, timeout_s=60)
        if run.status != "succeeded":
            raise RuntimeError(f"bench-noop ended {run.status}: {run.error}")
    return time.perf_counter() - t0


def run(settings: Settings) -> Outcome:
    seq: list[float] = []
    fan: list[float] = []
    calls: list[float] = []
    with running("flows", workers=4) as daemon, Client(daemon.socket, timeout=300) as client:
        timed_flow(client, "bench-flow-seq")  # warm-up: workers started, code loaded
        timed_flow(client, "bench-flow-fan")
        timed_calls(client)
        for _ in range(settings.reps):
            seq.append(timed_flow(client, "bench-flow-seq") / STATES)
            fan.append(timed_flow(client, "bench-flow-fan") / STATES)
            calls.append(timed_calls(client) / STATES)
    seq50, fan50, calls50 = stats.median(seq), stats.median(fan), stats.median(calls)
    rows = [
        Row(
            id="10a",
            name=f"flow of {STATES} no-op python states in sequence, per state",
            figure=stats.ms(seq50),
            baseline=f"{stats.ms(calls50)} (one submit-and-wait call)",
            ratio=stats.ratio(seq50, calls50),
        ),
        Row(
            id="10b",
            name=f"parallel state of {STATES} no-op branches, per state",
            figure=stats.ms(fan50),
            baseline=f"{stats.ms(calls50)} (one submit-and-wait call)",
            ratio=stats.ratio(fan50, calls50),
        ),
    ]
    notes = [
        f"{settings.reps} repetitions after a warm-up; 4 workers; SQLite store, "
        "durability normal. Per state = the whole flow's submit-and-wait time / "
        f"{STATES}. Baseline: {STATES} sequential `runs.submit` with `wait: true` of the "
        "same no-op task from one client, in the same daemon, per call.",
        "Repetition medians ranged: sequential "
        + stats.spread(seq, stats.ms)
        + ", fan-out "
        + stats.spread(fan, stats.ms)
        + ", separate calls "
        + stats.spread(calls, stats.ms)
        + ".",
        "Each state costs a child run (insert, start, finish: three durable writes), "
        "one journal append (its outcome and the transition) and the worker round trip; "
        "the fan-out runs its branches 4 at a time (the worker limit).",
    ]
    return Outcome(key="10", title="flow per-state overhead", rows=rows, notes=notes)
