"""``make bench``: run every benchmark, print the table, write ``docs/benchmarks.md``.

Exit status: 0 when every benchmark ran (missed targets included: they are reported,
not fatal); 1 when a benchmark itself broke; 2 on bad arguments. ``--quick`` runs each
benchmark once with small counts, to check the bench (its figures mean little, and it
does not write the markdown unless ``--output`` is given).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench import (
    backends,
    batches,
    bigoutput,
    calibrate,
    cli_cold,
    cluster,
    durable,
    events,
    floods,
    flows,
    history,
    latency,
    mcp_calls,
    metrics_cost,
    ping,
    prune,
    recovery,
    report,
    schedules,
    startup,
    suspended,
    throughput,
    web,
)
from bench.report import Outcome
from bench.settings import Settings

logger = logging.getLogger("bench")

Benchmark = Callable[[Settings], Outcome]
BENCHMARKS: dict[str, tuple[str, Benchmark]] = {
    "1": ("daemon.ping round trip", ping.run),
    "2": ("seqctl status, cold", cli_cold.run),
    "3": ("submit → task start, idle daemon", latency.run),
    "4": ("python no-op throughput, 8 clients", throughput.python_noop),
    "5": ("shell `true` throughput, 8 clients", throughput.shell_true),
    "6": ("flat with history", history.run),
    "7": ("1 GiB of stdout", bigoutput.run),
    "8": ("start-up and idle memory", startup.run),
    "9": ("storage backends", backends.run),
    "10": ("flow per-state overhead", flows.run),
    "11": ("recovery after a crash", recovery.run),
    "12": ("journaled ctx.step overhead", durable.run),
    "13": ("10,000 suspended runs", suspended.run),
    "15": ("prune of 100,000 runs", prune.run),
    "16": ("schedules: fire latency and idle cost", schedules.run),
    "17": ("the cost of counting (metrics on vs off)", metrics_cost.run),
    "18": ("log line → subscriber, idle daemon", events.run),
    "19": ("batches: runs.submit_many throughput", batches.run),
    "20": ("multi-node on PostgreSQL", cluster.run),
    "21": ("seqctl mcp: start-up and tool calls", mcp_calls.run),
    "22": ("the web dashboard: proxy call and page", web.run),
    "23": ("an admin's ping during socket floods", floods.run),
}
DEFAULT_OUTPUT = report.ROOT / "docs" / "benchmarks.md"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument(
        "--only",
        metavar="KEYS",
        help=f"comma-separated benchmarks to run (of {','.join(BENCHMARKS)})",
    )
    parser.add_argument("--reps", type=int, default=5, help="repetitions per figure (5)")
    parser.add_argument(
        "--quick", action="store_true", help="1 repetition, small counts: checks the bench"
    )
    parser.add_argument(
        "--output",
        type=Path,
        help=f"markdown file to write (default {DEFAULT_OUTPUT.relative_to(report.ROOT)}; "
        "with --quick or --only, nothing unless given)",
    )
    args = parser.parse_args(argv)
    keys = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = [k for k in keys if k not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    args.keys = keys
    return args


def run_one(key: str, settings: Settings) -> Outcome:
    title, bench = BENCHMARKS[key]
    t0 = time.monotonic()
    try:
        outcome = bench(settings)
    except Exception as exc:
        logger.error("benchmark %s (%s) broke:\n%s", key, title, traceback.format_exc())
        outcome = Outcome(key=key, title=title, error=f"{type(exc).__name__}: {exc}"[:2000])
    outcome.seconds = time.monotonic() - t0
    return outcome


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s bench: %(message)s")
    settings = Settings(reps=1, scale=0.1) if args.quick else Settings(reps=args.reps)
    machine = report.machine()
    busy_before = report.background_busy()
    machine.host_speed = calibrate.measure().describe()
    logger.info(
        "seqd bench: %d CPUs, %s, Python %s, commit %s; %d repetitions per figure; "
        "machine %.0f%% busy before starting",
        machine.cpus,
        machine.memory,
        machine.python,
        machine.commit,
        settings.reps,
        busy_before * 100,
    )
    t0 = time.monotonic()
    outcomes: list[Outcome] = []
    for n, key in enumerate(args.keys, 1):
        logger.info("[%d/%d] %s. %s", n, len(args.keys), key, BENCHMARKS[key][0])
        outcome = run_one(key, settings)
        outcomes.append(outcome)
        logger.info("      done in %.0f s%s", outcome.seconds, " (BROKEN)" if outcome.error else "")
    total = time.monotonic() - t0
    busy_after = report.background_busy()
    machine.background = f"{busy_before:.0%} busy before the bench, {busy_after:.0%} after"
    if max(busy_before, busy_after) > 0.2:
        machine.background += " — other work was running: figures are noisier than usual"
    print()
    print(report.text_table(outcomes))
    print()
    for outcome in outcomes:
        for note in outcome.notes:
            print(f"[{outcome.key}] {note}")
    output = args.output
    if output is None and not args.quick and args.only is None:
        output = DEFAULT_OUTPUT
    if output is not None:
        report.write_markdown(output, report.markdown(machine, outcomes, total))
        print(f"\nwrote {output}")
    print(f"whole bench: {total:.0f} s")
    broken = [o.key for o in outcomes if o.error is not None]
    if broken:
        print(f"BROKEN: benchmark(s) {', '.join(broken)} did not run through", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
