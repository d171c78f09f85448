"""Benchmarks 4 and 5: runs/s with 8 concurrent client processes, each with its own
connection, ``runs.submit`` with ``wait: true`` back to back; durable in SQLite.

4: a python no-op. 5: ``true`` as a shell task, on a plain daemon and on one made 1 GiB
resident by the ``bench/plugins/seqd-bench-ballast`` plugin (installed with pip into a
private directory put on the daemon's PYTHONPATH, as tests/test_entry_points.py does).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from bench import stats
from bench.harness import PYTHON, BenchDaemon, running, temp_base
from bench.load import Load, submit_load
from bench.report import Outcome, Row
from bench.settings import Settings
from seqd.client import Client

logger = logging.getLogger(__name__)

CLIENTS = 8
WORKERS = 8
PY_PER_CLIENT = 400
SHELL_PER_CLIENT = 200
DEADLINE_S = 15.0
BALLAST_MIB = 1024
PLUGIN = Path(__file__).resolve().parent / "plugins" / "seqd-bench-ballast"


def python_pool(daemon: BenchDaemon) -> dict[str, int]:
    with Client(daemon.socket, timeout=30) as client:
        return dict(client.status().workers.pools.get("python", {}))


def _cpu_note(load: Load) -> str:
    return load.breakdown(os.cpu_count() or 1)


def python_noop(settings: Settings) -> Outcome:
    per_client = settings.count(PY_PER_CLIENT, 10)
    sweep: dict[int, Load] = {}
    for workers in (2, 4):  # one repetition each, to show why WORKERS was chosen
        with running(f"py{workers}", workers=workers) as daemon:
            submit_load(daemon, "bench-noop", CLIENTS, settings.count(50, 5), DEADLINE_S)
            sweep[workers] = submit_load(daemon, "bench-noop", CLIENTS, per_client, DEADLINE_S)
    loads: list[Load] = []
    with running("py8", workers=WORKERS) as daemon:
        submit_load(daemon, "bench-noop", CLIENTS, settings.count(50, 5), DEADLINE_S)
        before = python_pool(daemon)
        for _ in range(settings.reps):
            loads.append(submit_load(daemon, "bench-noop", CLIENTS, per_client, DEADLINE_S))
        after = python_pool(daemon)
    failed = sum(load.failed for load in loads)
    if failed:
        raise RuntimeError(f"{failed} bench-noop runs did not succeed")
    rate = stats.median([load.rate for load in loads])
    mid = sorted(loads, key=lambda load: load.rate)[len(loads) // 2]
    runs = sum(load.runs for load in loads)
    spawned = after.get("spawned", 0) - before.get("spawned", 0)
    rows = [
        Row(
            id="4",
            name=f"python no-op, {CLIENTS} client processes, submit+wait (--workers {WORKERS})",
            figure=stats.rate(rate),
            target="≥ 2,000/s (goal 5,000/s)",
            met=rate >= 2000,
        )
    ]
    notes = [
        f"{settings.reps} repetitions of {CLIENTS} x {per_client} runs (each client "
        f"process: its own connection, `runs.submit` with `wait: true` back to back), "
        f"after a warm-up; SQLite, `durability = normal` (WAL, survives a process crash). "
        f"Goal 5,000/s: {'reached' if rate >= 5000 else 'not reached'}. Repetitions "
        f"ranged {stats.spread([load.rate for load in loads], stats.rate)}.",
        f"`--workers {WORKERS}` chosen: one repetition at `--workers 2` gave "
        f"{stats.rate(sweep[2].rate)}, at `--workers 4` {stats.rate(sweep[4].rate)}.",
        f"What limits it (median repetition): {_cpu_note(mid)}. The 2 CPUs are shared by "
        f"the daemon, {CLIENTS} client processes and the python workers.",
        f"Worker recycling: {spawned} python workers spawned during {runs:,} runs "
        f"(`max_runs_per_worker` default); each spawn is a fresh interpreter start.",
    ]
    return Outcome(key="4", title="python no-op throughput, 8 clients", rows=rows, notes=notes)


@contextlib.contextmanager
def ballast_site() -> Iterator[Path]:
    """The ballast plugin pip-installed (a real wheel build) into a private directory."""
    with temp_base("ballast") as base:
        src = base / "src"
        shutil.copytree(PLUGIN, src)
        site = base / "site"
        subprocess.run(
            [PYTHON, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
             "--target", str(site), str(src)],
            check=True,
            capture_output=True,
            timeout=300,
        )  # fmt: skip
        yield site


def shell_true(settings: Settings) -> Outcome:
    per_client = settings.count(SHELL_PER_CLIENT, 5)
    mib = max(16, int(BALLAST_MIB * min(settings.scale * 4, 1.0)))
    loads: dict[str, list[Load]] = {"plain": [], "ballast": []}
    rss: dict[str, int] = {}
    with ballast_site() as site:
        env = {"PYTHONPATH": str(site), "SEQD_BENCH_BALLAST_MB": str(mib)}
        with (
            running("true", workers=WORKERS) as plain,
            running("true-big", workers=WORKERS, env=env) as big,
        ):
            daemons = {"plain": plain, "ballast": big}
            if big.rss() < mib * 2**20:
                raise RuntimeError(f"the ballast did not load:\n{big.log_tail()}")
            for daemon in daemons.values():
                submit_load(daemon, "bench-true", CLIENTS, settings.count(20, 3), DEADLINE_S)
            for _ in range(settings.reps):
                for name, daemon in daemons.items():  # interleaved
                    loads[name].append(
                        submit_load(daemon, "bench-true", CLIENTS, per_client, DEADLINE_S)
                    )
            rss = {name: daemon.rss() for name, daemon in daemons.items()}
    for name, group in loads.items():
        if sum(load.failed for load in group):
            raise RuntimeError(f"bench-true runs did not succeed ({name})")
    rate = stats.median([load.rate for load in loads["plain"]])
    big_rate = stats.median([load.rate for load in loads["ballast"]])
    mids = {k: sorted(v, key=lambda load: load.rate)[len(v) // 2] for k, v in loads.items()}
    rows = [
        Row(
            id="5a",
            name=f"shell `true`, {CLIENTS} client processes, submit+wait",
            figure=stats.rate(rate),
            target="≥ 800/s",
            met=rate >= 800,
        ),
        Row(
            id="5b",
            name=f"shell `true`, same, daemon RSS {stats.mib(rss['ballast'])}",
            figure=stats.rate(big_rate),
            baseline=f"{stats.rate(rate)} (5a, RSS {stats.mib(rss['plain'])})",
            ratio=stats.ratio(big_rate, rate),
            target="≥ 0.90x",
            met=big_rate >= 0.9 * rate,
        ),
    ]
    notes = [
        f"{settings.reps} repetitions of {CLIENTS} x {per_client} runs on each daemon "
        f"(`--workers {WORKERS}`), plain and ballast interleaved; the ballast daemon "
        f"holds {mib} MiB written page by page by the plugin's `seqd_startup` hook. "
        "Repetitions ranged "
        + "; ".join(
            f"{name} {stats.spread([load.rate for load in group], stats.rate)}"
            for name, group in loads.items()
        )
        + ".",
        f"What limits it (median repetition): plain: {_cpu_note(mids['plain'])}; "
        f"ballast: {_cpu_note(mids['ballast'])}.",
    ]
    return Outcome(key="5", title="shell `true` throughput, 8 clients", rows=rows, notes=notes)
