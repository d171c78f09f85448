"""Benchmark 17: what counting costs. Row 4's load (python no-op runs, 8 client
processes, submit + wait, ``--workers 8``) on a daemon with metrics on and on one with
``[metrics] enabled = false``, repetitions interleaved so both see the same machine.

With metrics off the daemon still keeps the run counts ``daemon.status`` shows; what
is measured is the rest: per-run counters and histograms, RPC, storage and tool call
histograms. The note adds the cost of one recorded status change, timed in this
process, to tell the counting itself from the noise of the whole-system figure.
"""

from __future__ import annotations

import logging
import time
import timeit

from bench import stats
from bench.harness import running, temp_base
from bench.load import Load, submit_load
from bench.report import Outcome, Row
from bench.settings import Settings
from bench.throughput import CLIENTS, DEADLINE_S, PY_PER_CLIENT, WORKERS, _cpu_note
from seqd.model.runs import Run
from seqd.model.timeutil import now
from seqd.observe.registry import Registry
from seqd.observe.runs import RunMetrics

logger = logging.getLogger(__name__)

TARGET = 0.95
"""Throughput with metrics on, as a share of throughput with them off (≤ 5% cost)."""


def transition_cost_ns() -> float:
    """Nanoseconds per recorded status change (a run's life is three of them)."""
    metrics = RunMetrics(Registry())
    stamp = now()
    runs = [
        (Run(id=f"{i:024x}", task=f"t{i % 20}", status=s, created_at=stamp, started_at=stamp), p)
        for i in range(1000)
        for s, p in (("queued", None), ("running", "queued"), ("succeeded", "running"))
    ]

    def life() -> None:
        for run, previous in runs:
            metrics.transition(run, previous)

    best = min(timeit.repeat(life, number=5, repeat=5))
    return best / (5 * len(runs)) * 1e9


def run(settings: Settings) -> Outcome:
    per_client = settings.count(PY_PER_CLIENT, 10)
    loads: dict[str, list[Load]] = {"on": [], "off": []}
    with temp_base("metrics-cfg") as cfg:
        (cfg / "on.toml").write_text("[metrics]\nenabled = true\n")
        (cfg / "off.toml").write_text("[metrics]\nenabled = false\n")
        on_args = ["--config", str(cfg / "on.toml")]
        off_args = ["--config", str(cfg / "off.toml")]
        with (
            running("met-on", workers=WORKERS, args=on_args) as on,
            running("met-off", workers=WORKERS, args=off_args) as off,
        ):
            daemons = {"on": on, "off": off}
            for daemon in daemons.values():
                submit_load(daemon, "bench-noop", CLIENTS, settings.count(50, 5), DEADLINE_S)
            for rep in range(settings.reps):
                # Alternate which goes first, so neither always runs on a warmer machine.
                order = ("on", "off") if rep % 2 == 0 else ("off", "on")
                for name in order:
                    loads[name].append(
                        submit_load(daemons[name], "bench-noop", CLIENTS, per_client, DEADLINE_S)
                    )
                time.sleep(0.2)
    for name, group in loads.items():
        if sum(load.failed for load in group):
            raise RuntimeError(f"bench-noop runs did not succeed (metrics {name})")
    rate_on = stats.median([load.rate for load in loads["on"]])
    rate_off = stats.median([load.rate for load in loads["off"]])
    ratio = rate_on / rate_off
    per_change = transition_cost_ns()
    cpu = {
        name: stats.median([load.daemon_cpu_s / load.runs * 1e6 for load in group])
        for name, group in loads.items()
    }
    mids = {k: sorted(v, key=lambda load: load.rate)[len(v) // 2] for k, v in loads.items()}
    rows = [
        Row(
            id="17",
            name=f"python no-op as row 4 ({CLIENTS} clients, --workers {WORKERS}), metrics on",
            figure=stats.rate(rate_on),
            baseline=f"{stats.rate(rate_off)} (metrics off)",
            ratio=stats.ratio(rate_on, rate_off),
            target=f"≥ {TARGET:.2f}x (counting costs ≤ 5%)",
            met=ratio >= TARGET,
        )
    ]
    notes = [
        f"{settings.reps} repetitions of {CLIENTS} x {per_client} runs on each daemon, "
        "interleaved (the order alternating), after a warm-up; the off daemon has "
        "`[metrics] enabled = false` (it still keeps the run counts of `daemon.status`). "
        "Repetitions ranged "
        + "; ".join(
            f"{name} {stats.spread([load.rate for load in group], stats.rate)}"
            for name, group in loads.items()
        )
        + ".",
        f"Daemon CPU per run (median of the repetitions): on {cpu['on']:.0f} µs, off "
        f"{cpu['off']:.0f} µs ({cpu['on'] / cpu['off']:.2f}x): the daemon's own share of "
        "the cost, less exposed than throughput to what else the machine runs.",
        f"One recorded status change (counters, a histogram, the counts) costs "
        f"{per_change:.0f} ns in the bench process; a run makes three, so counting adds "
        f"about {3 * per_change / 1000:.1f} µs to a run's daemon-side work. RPC, storage "
        "and tool call histograms add one bisect and two dict updates per call.",
        f"What limits it (median repetition): on: {_cpu_note(mids['on'])}; "
        f"off: {_cpu_note(mids['off'])}.",
    ]
    title = "the cost of counting (metrics on vs off)"
    return Outcome(key="17", title=title, rows=rows, notes=notes)
