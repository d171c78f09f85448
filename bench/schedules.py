"""Benchmark 16: schedules — how soon a fire starts its run, and what 10,000 idle
schedules cost.

Fire latency: a schedule fires ``bench-now`` (a python task returning ``time.time()``
as the first thing it does) every second; latency = that time minus the fire's nominal
time (the run's ``scheduled_for``), and separately the run's ``created_at`` (stored,
queued) minus it. The baseline is the same task submitted by a client on the same
daemon: the client's ``time.time()`` before ``runs.submit`` to the task's start, so the
ratio is what a fire costs over a submit.

Idle cost: 10,000 schedules (a third each daily cron, 6-hourly ``every`` and ``at``,
none due within the measurement) are created through the API; then the daemon's CPU
time is measured with psutil over idle seconds, against the same daemon before any
schedule existed, and again after a restart on the same store.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import stats
from bench.harness import BenchDaemon, running
from bench.report import Outcome, Row
from bench.settings import Settings
from seqd.client import Client

FIRES = 20
SCHEDULES = 10_000
IDLE_S = 10.0
TARGET_S = 0.050


def seconds(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def fire_latencies(client: Client, name: str, n: int) -> tuple[list[float], list[float]]:
    """(fire → task start, fire → run stored) of ``n`` fires of a new ``every: 1s``."""
    client.create_schedule(name, "bench-now", every="1s", overlap="allow")
    runs: list[Any] = []
    deadline = time.monotonic() + n + 30
    while len(runs) < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(runs)} of {n} fires of {name}")
        time.sleep(0.5)
        runs = [r for r in client.iter_runs(schedule=name) if r.status == "succeeded"]
    client.delete_schedule(name)
    runs = sorted(runs, key=lambda r: r.scheduled_for)[:n]
    start = [r.output - seconds(r.scheduled_for) for r in runs]
    stored = [seconds(r.created_at) - seconds(r.scheduled_for) for r in runs]
    return start, stored


def submit_latency(client: Client, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        t0 = time.time()
        run = client.submit("bench-now", wait=True, timeout_s=30)
        samples.append(run.output - t0)
        time.sleep(0.05)  # idle between submits, as between fires
    return samples


def definitions(n: int, now: datetime) -> list[dict[str, Any]]:
    """``n`` schedules, none due in the next hour."""
    rng = random.Random(16)
    quiet_hours = [h for h in range(24) if h not in (now.hour, (now.hour + 1) % 24)]
    found = []
    for i in range(n):
        name = f"s{i:05d}"
        kind = i % 3
        if kind == 0:
            cron = f"{rng.randrange(60)} {rng.choice(quiet_hours)} * * *"
            found.append({"name": name, "task": "bench-noop", "cron": cron, "tz": "UTC"})
        elif kind == 1:
            anchor = now + timedelta(hours=1, seconds=rng.randrange(5 * 3600))
            found.append({"name": name, "task": "bench-noop", "every": "6h",
                          "anchor": anchor.isoformat()})  # fmt: skip
        else:
            at = now + timedelta(hours=2, seconds=rng.randrange(30 * 86400))
            found.append({"name": name, "task": "bench-noop", "at": at.isoformat()})
    return found


def create_all(client: Client, found: list[dict[str, Any]]) -> float:
    t0 = time.perf_counter()
    for start in range(0, len(found), 500):
        calls = [("schedules.create", d) for d in found[start : start + 500]]
        for result in client.batch(calls):
            if isinstance(result, Exception):
                raise result
    return time.perf_counter() - t0


def restart(daemon: BenchDaemon) -> float:
    """Seconds from starting the daemon again to its first answer."""
    daemon.stop()
    t0 = time.perf_counter()
    daemon.start()
    return time.perf_counter() - t0


def idle_cpu(daemon: BenchDaemon, seconds: float) -> float:
    before = daemon.cpu_seconds()
    time.sleep(seconds)
    return (daemon.cpu_seconds() - before) / seconds


def run(settings: Settings) -> Outcome:
    fires = settings.count(FIRES, 3)
    n = settings.count(SCHEDULES, 100)
    idle = IDLE_S if settings.reps > 1 else 2.0
    start_p50: list[float] = []
    stored_p50: list[float] = []
    start_p99: list[float] = []
    submit_p50: list[float] = []
    with running("schedules", workers=2) as daemon:
        with Client(daemon.socket, timeout=300) as client:
            submit_latency(client, 5)  # the worker is up
            for rep in range(settings.reps):
                start, stored = fire_latencies(client, f"fire{rep}", fires)
                start_p50.append(stats.percentile(start, 50))
                start_p99.append(stats.percentile(start, 99))
                stored_p50.append(stats.percentile(stored, 50))
                submit_p50.append(stats.percentile(submit_latency(client, fires), 50))
        ready_empty = restart(daemon)
        with Client(daemon.socket, timeout=300) as client:
            rss_empty = daemon.rss()
            cpu_empty = idle_cpu(daemon, idle)
            created_s = create_all(client, definitions(n, datetime.now(UTC)))
            listed = client.schedules(limit=1000).schedules
            if len(listed) < min(n, 1000) or any(s.state != "active" for s in listed):
                raise RuntimeError("the schedules are not all active")
            rss_full = daemon.rss()
            cpu_full = idle_cpu(daemon, idle)
        ready_s = restart(daemon)
        cpu_restarted = idle_cpu(daemon, idle)
        rss_restarted = daemon.rss()
    fire50, submit50 = stats.median(start_p50), stats.median(submit_p50)
    rows = [
        Row(
            id="16a",
            name="fire → task start, idle daemon (p50)",
            figure=stats.ms(fire50),
            baseline=f"{stats.ms(submit50)} (runs.submit → start)",
            ratio=stats.ratio(fire50, submit50),
            target="≤ 50 ms",
            met=fire50 <= TARGET_S,
        ),
        Row(
            id="16b",
            name=f"daemon CPU per second, {n:,} schedules idle",
            figure=stats.ms(cpu_full),
            baseline=f"{stats.ms(cpu_empty)} (no schedules)",
            ratio=stats.ratio(cpu_full, cpu_empty),
            target="no more than with none (+0.5 ms/s)",
            met=cpu_full <= cpu_empty + 0.0005,
        ),
        Row(
            id="16c",
            name=f"restart with {n:,} schedules: ready in / CPU per second after",
            figure=f"{ready_s:.2f} s / {stats.ms(cpu_restarted)}",
            baseline=f"{ready_empty:.2f} s (restart, no schedules)",
            ratio=stats.ratio(ready_s, ready_empty),
        ),
        Row(
            id="16d",
            name=f"daemon RSS with {n:,} schedules",
            figure=stats.mib(rss_full),
            baseline=f"{stats.mib(rss_empty)} (no schedules)",
            ratio=stats.ratio(rss_full, rss_empty),
        ),
    ]
    notes = [
        f"Fire latency: {settings.reps} repetitions of {fires} fires of an `every: 1s` "
        "schedule (`overlap: allow`) running `bench-now`; figure = the task's first "
        "`time.time()` minus the fire's nominal time. Repetition p50s: "
        f"{stats.spread(start_p50, stats.ms)}; p99 {stats.ms(stats.median(start_p99))}; "
        f"nominal time → run stored (created_at) p50 {stats.ms(stats.median(stored_p50))}. "
        f"Baseline: {fires} sequential `runs.submit` of the same task from a client on the "
        "same daemon, client clock before the submit to the task's start.",
        "What a fire does after its timer rings: the run is submitted through the engine "
        "(input checked, stored with its idempotency key, queued), then the schedule's "
        "cursor is stored; the run starts on the prestarted worker like any other. The "
        "timer is a loop timer at the fire's wall-clock time (uvloop: millisecond "
        "resolution).",
        f"Idle cost: {n:,} schedules (daily cron at quiet hours, `every: 6h` anchored at "
        "least an hour ahead, `at` two hours to a month ahead), made through "
        f"`schedules.create` in batches of 500 in {created_s:.1f} s "
        f"({n / max(created_s, 1e-9):,.0f}/s); CPU of the daemon process (all threads, "
        f"psutil) over {idle:g} idle s. One loop timer for the earliest fire, none "
        f"between fires. After the restart: RSS {stats.mib(rss_restarted)}; the "
        "schedules are read back with one `list_schedules`, their plans compiled in a "
        "thread.",
    ]
    return Outcome(key="16", title="schedules: fire latency and idle cost", rows=rows, notes=notes)
