"""Benchmark 12: the cost of a journaled ``ctx.step``.

A python task makes 1,000 ``ctx.step`` calls of a no-op function and times each call
inside the task (``bench-steps``): one pipe round trip to the daemon plus one journal
append that is durable before the call returns. Once with ``durability = "normal"``
and once with ``"full"`` (the SQLite store: ``synchronous=NORMAL`` vs ``FULL``, an
fsync per commit). The baseline is the pipe alone: 1,000 ``ctx.call`` round trips the
daemon answers without writing anything (``bench-calls``). A second reference is the
store alone: the same journal append made in-process, on a uvloop loop, against the
SQLite backend (what a step costs the daemon besides the pipe).
"""

from __future__ import annotations

import os
import time

import msgspec

from bench import stats
from bench.harness import running, temp_base
from bench.report import Outcome, Row
from bench.settings import Settings
from seqd.builtin.storage.sqlite.backend import SQLiteBackend
from seqd.client import Client
from seqd.model.runs import NewStep
from seqd.model.timeutil import now
from seqd.testing.storage import new_run, run_async

STEPS = 1000
TARGET_NORMAL_S = 100e-6
TARGET_FULL_S = 1e-3


def per_call(client: Client, task: str, n: int) -> list[float]:
    """The per-call seconds the task measured, for one run of ``task``."""
    run = client.submit(task, {"n": n}, wait=True, timeout_s=300)
    if run.status != "succeeded":
        raise RuntimeError(f"{task} ended {run.status}: {run.error}")
    times = run.output
    if not isinstance(times, list) or len(times) != n:
        raise RuntimeError(f"{task} returned {type(times).__name__}, not {n} timings")
    return [float(t) for t in times]


def measure(settings: Settings, durability: str) -> tuple[list[float], list[float], list[float]]:
    """Per repetition: the p50 and p90 of a step, and the p50 of a bare round trip."""
    n = settings.count(STEPS, minimum=50)
    p50: list[float] = []
    p90: list[float] = []
    bare: list[float] = []
    args = ["--durability", durability]
    with (
        running(f"durable-{durability}", workers=2, args=args) as daemon,
        Client(daemon.socket, timeout=300) as client,
    ):
        per_call(client, "bench-steps", n)  # warm-up: a worker started, code loaded
        per_call(client, "bench-calls", n)
        for _ in range(settings.reps):
            steps = per_call(client, "bench-steps", n)
            p50.append(stats.percentile(steps, 50))
            p90.append(stats.percentile(steps, 90))
            bare.append(stats.percentile(per_call(client, "bench-calls", n), 50))
    return p50, p90, bare


async def _appends(path: str, durability: str, n: int) -> float:
    """p50 of ``n`` one-entry journal appends awaited one at a time."""
    backend = SQLiteBackend(path, durability=durability)
    await backend.open()
    try:
        run = (await backend.create_run(new_run(task="bench-steps")))[0]
        times: list[float] = []
        for i in range(n):
            entry = NewStep(
                ts=now(),
                kind="step",
                key=f"py.1.{i + 1}",
                name="noop",
                status="succeeded",
                data={"result": msgspec.Raw(b"null")},
            )
            t0 = time.perf_counter()
            await backend.append_steps(run.id, [entry])
            times.append(time.perf_counter() - t0)
        return stats.percentile(times, 50)
    finally:
        await backend.close()


def store_only(settings: Settings, durability: str) -> float:
    n = settings.count(STEPS, minimum=50)
    with temp_base(f"b12{durability}") as base:
        path = os.path.join(base, "seqd.db")
        return run_async(_appends(path, durability, n), timeout_s=300)


def run(settings: Settings) -> Outcome:
    n = settings.count(STEPS, minimum=50)
    normal50, normal90, bare_normal = measure(settings, "normal")
    full50, full90, bare_full = measure(settings, "full")
    store_normal = store_only(settings, "normal")
    store_full = store_only(settings, "full")
    n50, f50 = stats.median(normal50), stats.median(full50)
    bare50 = stats.median(bare_normal + bare_full)
    rows = [
        Row(
            id="12a",
            name=f"journaled ctx.step no-op, p50 per step ({n} in a run), durability normal",
            figure=stats.us(n50),
            baseline=f"{stats.us(bare50)} (ctx.call round trip, no write)",
            ratio=stats.ratio(n50, bare50),
            target="≤ 100 µs",
            met=n50 <= TARGET_NORMAL_S,
        ),
        Row(
            id="12b",
            name=f"journaled ctx.step no-op, p50 per step ({n} in a run), durability full",
            figure=stats.us(f50),
            baseline=f"{stats.us(bare50)} (ctx.call round trip, no write)",
            ratio=stats.ratio(f50, bare50),
            target="≤ 1 ms",
            met=f50 <= TARGET_FULL_S,
        ),
    ]
    notes = [
        f"{settings.reps} repetitions after a warm-up, each a run of "
        f"{n} `ctx.step` calls timed one by one inside the "
        "task (`time.perf_counter` around the call); the figure is the median of the "
        "repetitions' p50. SQLite store, 2 workers, an otherwise idle daemon.",
        "p90 per step: normal "
        + stats.spread(normal90, stats.us)
        + ", full "
        + stats.spread(full90, stats.us)
        + "; p50 ranged: normal "
        + stats.spread(normal50, stats.us)
        + ", full "
        + stats.spread(full50, stats.us)
        + ".",
        f"The store alone (a one-entry `append_steps` awaited in-process on a uvloop "
        f"loop, SQLite): p50 {stats.us(store_normal)} in normal, {stats.us(store_full)} "
        "in full. In `normal` an idle store commits the append on the event loop "
        "itself at the end of the loop turn (decisions 36-37: no round trip through the "
        "writer thread, ~150 µs on this VM); in `full` it goes through the writer thread "
        "and an fsync. What remains of a step is the daemon's own work per operation (frame "
        "decode, a task per call, the journal entry, tracing) and two process wake-ups "
        "(worker → loop, loop → worker), each slow on an idle 2-vCPU VM. Before the "
        "fast path, an instrumented run on an idle machine split a 231 µs step into: "
        "worker to loop 28 µs, loop turn 15, handler 6, loop to writer thread 29, the "
        "SQLite batch 52, writer to loop 28, resume and reply 15, loop to worker 27.",
        "A step is one msgpack frame each way over the worker's socketpair and one "
        "journal append, awaited before the reply. The result's JSON bytes from the "
        "worker are stored as they are (`msgspec.Raw`), not decoded and encoded again. "
        "A replayed step costs no round trip at all: the journal is read once per "
        "execution. For scale: DBOS, the nearest peer, costs about 1.8 ms per step on "
        "SQLite on this class of machine (issue 6).",
    ]
    return Outcome(key="12", title="journaled ctx.step overhead", rows=rows, notes=notes)
