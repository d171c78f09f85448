"""Benchmark 9: the storage backends side by side.

9a-9c: benchmark 4's load (python no-op, 8 client processes, submit-and-wait) on a
sqlite, an fs and a postgres daemon, all up at once and taken in turn each repetition.
9d-9f: one storage round trip, in this process straight against each backend (opened
through the plugin host as the daemon opens it): ``get_run`` and a compare-and-set
``update_run``, one at a time. PostgreSQL comes from ``$SEQD_TEST_POSTGRES_DSN``; when it
cannot be reached its rows say so and the rest is measured anyway.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import math
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import msgspec

from bench import stats
from bench.harness import BenchDaemon, running, temp_base
from bench.load import Load, submit_load
from bench.report import Outcome, Row
from bench.settings import Settings
from bench.throughput import CLIENTS, DEADLINE_S, PY_PER_CLIENT, WORKERS
from seqd.model.runs import Run
from seqd.model.timeutil import now
from seqd.plugins.host import PluginHost
from seqd.plugins.storage import StorageBackend, StorageContext
from seqd.testing.storage import changed, new_run, run_async

logger = logging.getLogger(__name__)

TITLE = "storage backends"
DSN_ENV = "SEQD_TEST_POSTGRES_DSN"
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"
PG_LOCK = os.path.join(tempfile.gettempdir(), "seqd-postgres-tests.lock")
"""The lock the PostgreSQL tests hold (exclusive while one stops the server)."""
PG_WAIT_S = 10.0
PER_CLIENT = 150
TRIPS = 2000
"""Round trips of each kind per backend, split over the repetitions."""
WARMUP_TRIPS = 200
STORED_RUNS = 100
"""Runs in the round-trip store; reads and writes go round them."""
TITLES = {"sqlite": "SQLite", "fs": "fs", "postgres": "PostgreSQL"}


class Store(msgspec.Struct, kw_only=True):
    """One backend as both a daemon (flags) and in-process (options) open it."""

    name: str
    options: dict[str, Any] = {}

    def daemon_args(self) -> list[str]:
        args = ["--storage", self.name]
        for key, value in self.options.items():
            args += ["--storage-opt", f"{key}={value}"]
        return args


class Trips(msgspec.Struct, kw_only=True):
    """Per repetition, the p50 of each kind; and every sample, for the notes."""

    read_p50: list[float] = []
    write_p50: list[float] = []
    reads: list[float] = []
    writes: list[float] = []


# -- PostgreSQL: reachable?, a private schema, the tests' lock ------------------------


def _one_line(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}"[:200]


def postgres_unavailable(dsn: str) -> str | None:
    """Why the postgres rows cannot be measured (short form up to the first colon),
    or None."""
    host = PluginHost()
    host.load()
    if host.storage.get("postgres") is None:
        return "the seqd-postgres plugin is not installed"
    import psycopg
    from seqd_postgres.options import redact_dsn

    try:
        with psycopg.connect(dsn, connect_timeout=3):
            return None
    except Exception as exc:
        return f"PostgreSQL unreachable: connecting to {redact_dsn(dsn)} gave {_one_line(exc)}"


@contextlib.contextmanager
def server_shared(timeout_s: float = PG_WAIT_S) -> Iterator[bool]:
    """Hold the PostgreSQL tests' lock shared (so no fault test stops the server under
    the bench); yields False if a test held it exclusively for ``timeout_s``."""
    fd = os.open(PG_LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    yield False
                    return
                time.sleep(0.05)
        yield True
    finally:
        os.close(fd)


@contextlib.contextmanager
def pg_schemas(dsn: str, n: int) -> Iterator[list[str]]:
    """``n`` fresh schema names, each dropped with what it holds at the end."""
    import psycopg
    from psycopg import sql

    names = [f"seqd_bench_{secrets.token_hex(6)}" for _ in range(n)]
    try:
        yield names
    finally:
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
                for name in names:
                    drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE")
                    conn.execute(drop.format(sql.Identifier(name)))
        except psycopg.Error as exc:
            logger.warning("could not drop schemas %s: %s", ", ".join(names), _one_line(exc))


# -- 9a-9c: runs per second through a daemon ------------------------------------------


def throughput(settings: Settings, stores: list[Store]) -> dict[str, list[Load]]:
    """Every daemon up at once; each repetition loads each in turn (the first one
    rotates, so none always runs right after the machine was idle)."""
    per_client = settings.count(PER_CLIENT, 10)
    loads: dict[str, list[Load]] = {s.name: [] for s in stores}
    with contextlib.ExitStack() as stack:
        daemons: dict[str, BenchDaemon] = {}
        for store in stores:
            daemons[store.name] = stack.enter_context(
                running(f"b9{store.name}", workers=WORKERS, args=store.daemon_args())
            )
        for daemon in daemons.values():
            submit_load(daemon, "bench-noop", CLIENTS, settings.count(50, 5), DEADLINE_S)
        names = list(daemons)
        for rep in range(settings.reps):
            k = rep % len(names)
            for name in names[k:] + names[:k]:
                load = submit_load(daemons[name], "bench-noop", CLIENTS, per_client, DEADLINE_S)
                if load.failed:
                    raise RuntimeError(f"{load.failed} bench-noop runs did not succeed ({name})")
                loads[name].append(load)
    return loads


# -- 9d-9f: one storage round trip ----------------------------------------------------


async def _trips(backend: StorageBackend, runs: list[Run], n: int, out: Trips) -> None:
    """``n`` reads then ``n`` writes, one at a time, round the stored ``runs``."""
    reads: list[float] = []
    for i in range(n):
        run_id = runs[i % len(runs)].id
        t0 = time.perf_counter()
        found = await backend.get_run(run_id)
        reads.append(time.perf_counter() - t0)
        if found is None:
            raise RuntimeError(f"{backend.name}: get_run lost run {run_id}")
    writes: list[float] = []
    for i in range(n):
        j = i % len(runs)
        runs[j] = changed(runs[j], output=i)
        t0 = time.perf_counter()
        written = await backend.update_run(runs[j], expect=["running"])
        writes.append(time.perf_counter() - t0)
        if not written:
            raise RuntimeError(f"{backend.name}: update_run (CAS) refused run {runs[j].id}")
    out.read_p50.append(stats.percentile(reads, 50))
    out.write_p50.append(stats.percentile(writes, 50))
    out.reads += reads
    out.writes += writes


async def _round_trips(stores: list[Store], state_dir: str, settings: Settings) -> dict[str, Trips]:
    host = PluginHost()
    host.load()
    per_rep = max(
        settings.count(WARMUP_TRIPS, 20), math.ceil(settings.count(TRIPS, 100) / settings.reps)
    )
    out = {s.name: Trips() for s in stores}
    async with contextlib.AsyncExitStack() as stack:
        opened: dict[str, tuple[StorageBackend, list[Run]]] = {}
        for store in stores:
            factory = host.storage.get(store.name)
            if factory is None:
                raise RuntimeError(f"storage backend {store.name!r} is not installed")
            context = StorageContext(os.path.join(state_dir, store.name), "normal")
            os.makedirs(context.state_dir)
            backend = factory.create(dict(store.options), context)
            await backend.open()
            stack.push_async_callback(backend.close)
            runs = []
            for _ in range(STORED_RUNS):
                run = new_run(task="bench-noop", status="running", started_at=now())
                runs.append((await backend.create_run(run))[0])
            await _trips(backend, runs, settings.count(WARMUP_TRIPS, 20), Trips())
            opened[store.name] = (backend, runs)
        for rep in range(settings.reps):
            names = list(opened)
            k = rep % len(names)
            for name in names[k:] + names[:k]:
                backend, runs = opened[name]
                await _trips(backend, runs, per_rep, out[name])
    return out


def round_trips(stores: list[Store], settings: Settings) -> dict[str, Trips]:
    with temp_base("b9trips") as base:
        return run_async(_round_trips(stores, str(base), settings), timeout_s=300)


# -- the benchmark ----------------------------------------------------------------------


def run(settings: Settings) -> Outcome:
    dsn = os.environ.get(DSN_ENV) or DEFAULT_DSN
    with contextlib.ExitStack() as stack:
        why = postgres_unavailable(dsn)
        if why is None and not stack.enter_context(server_shared()):
            why = f"server busy with a fault test: {PG_LOCK} held exclusively for {PG_WAIT_S:g} s"
        stores = [Store(name="sqlite"), Store(name="fs")]
        if why is None:
            daemon_schema, trips_schema = stack.enter_context(pg_schemas(dsn, 2))
            stores.append(Store(name="postgres", options={"dsn": dsn, "schema": daemon_schema}))
        t0 = time.monotonic()
        loads = throughput(settings, stores)
        load_s = time.monotonic() - t0
        if why is None:
            stores[-1] = Store(name="postgres", options={"dsn": dsn, "schema": trips_schema})
        t0 = time.monotonic()
        trips = round_trips(stores, settings)
        trips_s = time.monotonic() - t0
    return Outcome(
        key="9",
        title=TITLE,
        rows=_rows(loads, trips, why),
        notes=_notes(settings, loads, trips, why, load_s, trips_s),
    )


def _not_measured(why: str | None) -> str:
    """The row's short form of ``why`` (up to its first colon; the notes have it all)."""
    return f"not measured ({(why or 'unknown reason').split(':', 1)[0]})"


def _rows(loads: dict[str, list[Load]], trips: dict[str, Trips], why: str | None) -> list[Row]:
    rates = {name: stats.median([load.rate for load in group]) for name, group in loads.items()}
    base_rate = rates["sqlite"]
    base_trip = trips["sqlite"]
    base_read, base_write = stats.median(base_trip.read_p50), stats.median(base_trip.write_p50)
    rows: list[Row] = []
    for i, name in enumerate(("sqlite", "fs", "postgres")):
        name_text = (
            f"python no-op, {CLIENTS} clients, submit+wait, {TITLES[name]} (--workers {WORKERS})"
        )
        if name not in loads:
            rows.append(Row(id=f"9{'abc'[i]}", name=name_text, figure=_not_measured(why)))
        else:
            rows.append(
                Row(
                    id=f"9{'abc'[i]}",
                    name=name_text,
                    figure=stats.rate(rates[name]),
                    baseline="—" if name == "sqlite" else f"{stats.rate(base_rate)} (9a, SQLite)",
                    ratio="—" if name == "sqlite" else stats.ratio(rates[name], base_rate),
                )
            )
    for i, name in enumerate(("sqlite", "fs", "postgres")):
        name_text = f"one storage round trip, {TITLES[name]}: get_run / update_run (CAS), p50"
        if name not in trips:
            rows.append(Row(id=f"9{'def'[i]}", name=name_text, figure=_not_measured(why)))
            continue
        read, write = stats.median(trips[name].read_p50), stats.median(trips[name].write_p50)
        rows.append(
            Row(
                id=f"9{'def'[i]}",
                name=name_text,
                figure=f"{stats.us(read)} / {stats.us(write)}",
                baseline="—"
                if name == "sqlite"
                else f"{stats.us(base_read)} / {stats.us(base_write)} (9d, SQLite)",
                ratio="—"
                if name == "sqlite"
                else f"{stats.ratio(read, base_read)} / {stats.ratio(write, base_write)}",
            )
        )
    return rows


def _median_load(group: list[Load]) -> Load:
    return sorted(group, key=lambda load: load.rate)[len(group) // 2]


def _notes(
    settings: Settings,
    loads: dict[str, list[Load]],
    trips: dict[str, Trips],
    why: str | None,
    load_s: float,
    trips_s: float,
) -> list[str]:
    per_client = settings.count(PER_CLIENT, 10)
    per_rep = max(
        settings.count(WARMUP_TRIPS, 20), math.ceil(settings.count(TRIPS, 100) / settings.reps)
    )
    notes = [
        f"9a-9c: benchmark 4's load and worker setting (`--workers {WORKERS}`, chosen there): "
        f"{settings.reps} repetitions of {CLIENTS} client processes x {per_client} runs of "
        "`bench-noop` (`runs.submit` with `wait: true`) on each of the daemons, all running "
        f"at once with `durability = normal`, after a warm-up ({per_client} runs per client "
        f"against benchmark 4's {PY_PER_CLIENT}, to keep benchmark 9 within a minute); "
        "within a repetition the "
        "backends take turns, the first one rotating. The figure is the median repetition, "
        "and the SQLite daemon is the baseline for the ratios. Repetitions ranged "
        + "; ".join(
            f"{TITLES[name]} {stats.spread([load.rate for load in group], stats.rate)}"
            for name, group in loads.items()
        )
        + f". Took {load_s:.0f} s.",
        "What limits them (median repetition): "
        + "; ".join(
            f"{TITLES[name]}: {_median_load(group).breakdown(os.cpu_count() or 1)}"
            for name, group in loads.items()
        )
        + ".",
        f"9d-9f: in the bench process, each backend opened through the plugin host "
        f"(`PluginHost().load()`, `storage.get(name).create(options, StorageContext(dir, "
        f'"normal"))`, `open()`) on a uvloop loop, as the daemon opens it; {STORED_RUNS} '
        f"running runs stored, {settings.count(WARMUP_TRIPS, 20)} reads and writes of warm-up, "
        f"then per repetition {per_rep} `get_run` calls round those runs and {per_rep} "
        '`update_run(run, expect=["running"])` (a compare-and-set write that succeeds, '
        "acknowledged once durable to the `normal` level), one at a time, timed around the "
        "await. The figure is the median over the repetitions of each one's p50; the "
        "backends take turns per repetition. Took "
        f"{trips_s:.0f} s. p99 over all samples: "
        + "; ".join(
            f"{TITLES[name]} {stats.us(stats.percentile(t.reads, 99))} / "
            f"{stats.us(stats.percentile(t.writes, 99))}"
            for name, t in trips.items()
        )
        + ".",
        "What a durable write is at `durability = normal`: SQLite commits in WAL mode with "
        "`synchronous = NORMAL` (no fsync per commit); fs replaces the run's JSON file "
        "(temp file + rename, no fsync); PostgreSQL commits with the server's own "
        "`synchronous_commit` (on by default: the WAL is flushed at each commit) over a "
        "local TCP connection. fs hands each write to its writer thread, PostgreSQL to "
        "its writer task (psycopg async), and SQLite commits small writes on the event "
        "loop at the end of the turn when its thread is idle; all three group the writes "
        "that arrive together into one commit, so a lone write, as here, pays a whole one.",
    ]
    if why is not None:
        notes.append(f"PostgreSQL rows not measured: {why}.")
    return notes
