"""Benchmark 20: several daemons (nodes) on one PostgreSQL schema.

20a-20c: runs per second with 1, 2 and 3 nodes: batches of `bench-noop` submitted
(``runs.submit_many``) to every node at once, timed from the first submit until the
store holds every run succeeded. 20d: takeover after a SIGKILL: a node running a
`bench-sleep` run is killed; the time until another node runs it again. 20e: cross-node
start latency: a run submitted to a node whose one worker slot is busy starts on an
idle node; ``started_at - created_at``, p50. 20f: cross-node events: a subscriber on one
node, runs executing on another; from a run's ``finished_at`` (the other node's clock, the
same machine) to its ``succeeded`` event read by the subscriber, p50. PostgreSQL comes from
``$SEQD_TEST_POSTGRES_DSN``; when it cannot be reached the rows say so.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator

import psycopg
from psycopg import sql

from bench import stats
from bench.backends import DEFAULT_DSN, DSN_ENV, pg_schemas, postgres_unavailable, server_shared
from bench.harness import BenchDaemon, running
from bench.report import Outcome, Row
from bench.settings import Settings
from seqd.client import Client
from seqd.model.timeutil import parse_ts

TITLE = "multi-node on PostgreSQL"
WORKERS = 8
TOTAL = 3000
"""Runs per throughput measurement, split evenly over the nodes."""
BATCH = 100
LEASE_S = 5.0
"""The nodes' lease in 20d (the default is 20 s; takeover takes one lease and at most
one heartbeat interval, a third of it)."""
LATENCY_SAMPLES = 40


@contextlib.contextmanager
def nodes(dsn: str, schema: str, n: int, workers: int = WORKERS) -> Iterator[list[BenchDaemon]]:
    with contextlib.ExitStack() as stack:
        started = []
        for i in range(n):
            args = ["--storage", "postgres", "--storage-opt", f"dsn={dsn}"]
            args += ["--storage-opt", f"schema={schema}", "--storage-opt", f"lease_s={LEASE_S}"]
            args += ["--node", f"b20n{i}"]
            started.append(stack.enter_context(running(f"b20n{i}", workers=workers, args=args)))
        yield started


def succeeded(conn: psycopg.Connection[tuple[int]], schema: str) -> int:
    query = sql.SQL("SELECT count(*) FROM {}.runs WHERE status = 'succeeded'")
    row = conn.execute(query.format(sql.Identifier(schema))).fetchone()
    return int(row[0]) if row else 0


def load(dsn: str, schema: str, daemons: list[BenchDaemon], total: int) -> float:
    """Runs per second: ``total`` runs submitted across ``daemons``, until all ended."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        before = succeeded(conn, schema)
        share = total // len(daemons)

        def submit(daemon: BenchDaemon) -> None:
            with Client(daemon.socket, timeout=120) as c:
                for i in range(0, share, BATCH):
                    c.submit_many("bench-noop", [{}] * min(BATCH, share - i))

        threads = [threading.Thread(target=submit, args=(d,)) for d in daemons]
        t0 = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        target = before + share * len(daemons)
        deadline = time.monotonic() + 300
        while succeeded(conn, schema) < target:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(daemons)} nodes: runs did not finish in 300 s")
            time.sleep(0.005)
        return share * len(daemons) / (time.perf_counter() - t0)


def throughput(dsn: str, settings: Settings) -> dict[int, list[float]]:
    rates: dict[int, list[float]] = {}
    total = settings.count(TOTAL, 60)
    for n in (1, 2, 3):
        with pg_schemas(dsn, 1) as (schema,), nodes(dsn, schema, n) as daemons:
            load(dsn, schema, daemons, settings.count(300, 30))  # warm-up
            rates[n] = [load(dsn, schema, daemons, total) for _ in range(settings.reps)]
    return rates


def takeover(dsn: str, settings: Settings) -> list[float]:
    times = []
    with pg_schemas(dsn, 1) as (schema,), nodes(dsn, schema, 2, workers=2) as daemons:
        for _ in range(min(settings.reps, 3)):
            up = [d for d in daemons if d.proc is not None and d.proc.poll() is None]
            with Client(up[0].socket, timeout=60) as c:
                run = c.submit("bench-sleep", {})
                while (current := c.get_run(run.id)).status != "running":
                    time.sleep(0.01)
            victim = next(d for i, d in enumerate(daemons) if current.node == f"b20n{i}")
            other = next(d for d in daemons if d is not victim)
            assert victim.proc is not None
            victim.proc.send_signal(signal.SIGKILL)
            victim.proc.wait()
            killed = time.perf_counter()
            with Client(other.socket, timeout=60) as c:
                while True:
                    again = c.get_run(run.id)
                    if again.status == "running" and again.node != current.node:
                        break
                    if time.perf_counter() - killed > 10 * LEASE_S:
                        raise RuntimeError("the killed node's run was not taken over")
                    time.sleep(0.01)
                times.append(time.perf_counter() - killed)
                c.cancel(run.id)
            victim.start()  # back for the next repetition, as a new node
    return times


def latency(dsn: str, settings: Settings) -> tuple[list[float], int]:
    """Submit to a node whose one slot is busy: the run starts on the idle one."""
    samples: list[float] = []
    elsewhere = 0
    with pg_schemas(dsn, 1) as (schema,), nodes(dsn, schema, 2, workers=1) as (busy, idle):
        with Client(busy.socket, timeout=60) as c:
            blocker = c.submit("bench-sleep", {})
            while c.get_run(blocker.id).status != "running":
                time.sleep(0.01)
            blocked_on = c.get_run(blocker.id).node
            submit_to = busy if blocked_on == "b20n0" else idle
        with Client(submit_to.socket, timeout=60) as c:
            for _ in range(settings.count(LATENCY_SAMPLES, 5)):
                run = c.submit("bench-noop", {}, wait=True, timeout_s=30)
                assert run.started_at is not None
                samples.append(parse_ts(run.started_at) - parse_ts(run.created_at))
                elsewhere += run.node != blocked_on
            c.cancel(blocker.id)
    return samples, elsewhere


def event_latency(dsn: str, settings: Settings) -> tuple[list[float], int]:
    """A subscriber on node A, runs submitted to (and held by) node B: how long after a
    run ended on B its event reaches the subscriber on A."""
    samples: list[float] = []
    elsewhere = 0
    with (
        pg_schemas(dsn, 1) as (schema,),
        nodes(dsn, schema, 2) as (a, b),
        Client(a.socket, timeout=60) as ca,
        Client(b.socket, timeout=60) as cb,
    ):
        b_node = cb.status().node
        events = iter(ca.subscribe(["run"], task="bench-noop", status=["succeeded"]))
        assert next(events).topic == "live"
        for _ in range(settings.count(LATENCY_SAMPLES, 5)):
            run = cb.submit("bench-noop", {})
            event = next(events)
            received = time.time()
            assert event.run.id == run.id and event.run.finished_at is not None
            samples.append(received - parse_ts(event.run.finished_at))
            elsewhere += event.run.node == b_node
    return samples, elsewhere


def run(settings: Settings) -> Outcome:
    dsn = os.environ.get(DSN_ENV) or DEFAULT_DSN
    why = postgres_unavailable(dsn)
    with server_shared() as shared:
        if why is None and not shared:
            why = "server busy with a fault test"
        if why is not None:
            rows = [Row(id="20", name=TITLE, figure=f"not measured ({why.split(':', 1)[0]})")]
            return Outcome(key="20", title=TITLE, rows=rows, notes=[why])
        rates = throughput(dsn, settings)
        taken = takeover(dsn, settings)
        starts, elsewhere = latency(dsn, settings)
        seen, on_b = event_latency(dsn, settings)
    base = stats.median(rates[1])
    rows = [
        Row(
            id=f"20{'abc'[n - 1]}",
            name=f"python no-op runs/s, {n} node{'s' if n > 1 else ''} (--workers {WORKERS} each)",
            figure=stats.rate(stats.median(rates[n])),
            baseline="—" if n == 1 else f"{stats.rate(base)} (20a, 1 node)",
            ratio="—" if n == 1 else stats.ratio(stats.median(rates[n]), base),
            target="≥ 1,000/s" if n == 2 else "—",
            met=stats.median(rates[n]) >= 1000 if n == 2 else None,
        )
        for n in (1, 2, 3)
    ]
    rows.append(
        Row(
            id="20d",
            name=f"takeover after SIGKILL (lease_s = {LEASE_S:g})",
            figure=f"{stats.median(taken):.1f} s",
            target=f"≤ {LEASE_S * 4 / 3 + 1:.1f} s (a lease, a heartbeat, 1 s to recover)",
            met=max(taken) <= LEASE_S * 4 / 3 + 1,
        )
    )
    p50 = stats.percentile(starts, 50)
    rows.append(
        Row(
            id="20e",
            name="cross-node start latency, submit → started, p50",
            figure=stats.ms(p50),
            target="≤ 50 ms",
            met=p50 <= 0.05,
        )
    )
    rows.append(
        Row(
            id="20f",
            name="cross-node event latency, run ended → its event on another node, p50",
            figure=stats.ms(stats.percentile(seen, 50)),
        )
    )
    notes = [
        f"20a-20c: {settings.count(TOTAL, 60)} runs of `bench-noop` per repetition, submitted "
        f"in batches of {BATCH} (`runs.submit_many`) to every node at once from one client "
        "thread per node, timed until the store holds them all succeeded; median of "
        f"{settings.reps} repetitions after a warm-up. Repetitions ranged "
        + "; ".join(f"{n} node(s) {stats.spread(r, stats.rate)}" for n, r in rates.items())
        + ". Every node runs on this one machine (2 cores), PostgreSQL too: more nodes "
        "share the same CPUs, so the figures show the cost of sharing, not scale-out.",
        f"20d: a `bench-sleep` run on a node that is SIGKILLed; the time until another node "
        f"runs it: its lease (`lease_s = {LEASE_S:g}`) running out, the next heartbeat of the "
        "other node (every third of a lease), then the takeover. Samples: "
        + ", ".join(f"{t:.1f} s" for t in taken),
        f"20e: {len(starts)} runs submitted one at a time (wait: true) to a node whose only "
        f"worker slot is busy; {elsewhere} of them started on the other node, woken by "
        "NOTIFY. Samples in ms: " + ", ".join(f"{s * 1000:.0f}" for s in sorted(starts)),
        f"20f: {len(seen)} runs submitted one at a time to node B ({on_b} ran there), each "
        "awaited as its `succeeded` event on a subscriber of node A, whose change feed is "
        "woken by B's `ended` note. Samples in ms: "
        + ", ".join(f"{s * 1000:.1f}" for s in sorted(seen)),
    ]
    return Outcome(key="20", title=TITLE, rows=rows, notes=notes)
