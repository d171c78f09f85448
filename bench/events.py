"""Benchmark 18: a log line printed by a task → a subscribed client, on an idle daemon.

A task prints the wall-clock time every ``INTERVAL_S`` (``bench-ticker``: python
``print``; ``bench-ticker-shell``: ``date +%s.%N``), after a pause in which the bench,
having submitted it, subscribes to its ``log`` events. Latency = the time the event is
decoded by ``seqd.client.Client`` - the time in the line. Baseline: the same printing
loop started by the bench itself with ``subprocess.Popen``, its stdout read line by
line from the pipe — what getting a line out of a process costs with no daemon.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time

from bench import stats
from bench.harness import running
from bench.report import Outcome, Row
from bench.settings import Settings
from seqd.client import Client

logger = logging.getLogger(__name__)

LINES = 50
INTERVAL_S = 0.02
PAUSE_S = 0.3
TARGET_S = 0.050
TASKS = {"python": "bench-ticker", "shell": "bench-ticker-shell"}
_LOOP = (
    "import time, sys\n"
    "for _ in range({n}):\n"
    "    print(repr(time.time()), flush=True)\n"
    "    time.sleep({interval})\n"
)


def one_run(client: Client, task: str, lines: int) -> list[float]:
    """The latency of each line of one run of ``task``."""
    run = client.submit(task, {"n": lines, "interval_s": INTERVAL_S, "pause_s": PAUSE_S})
    latencies: list[float] = []
    for event in client.subscribe(["log", "run"], run_id=run.id, timeout_s=60):
        received = time.time()
        if event.topic == "log":
            latencies.extend(received - float(line.text) for line in event.lines)
        elif event.topic == "run" and event.run.status in ("succeeded", "failed"):
            break
    if len(latencies) != lines:
        raise RuntimeError(f"{task} run {run.id}: {len(latencies)} of {lines} lines arrived")
    return latencies


def pipe_baseline(lines: int) -> list[float]:
    """The same printing loop in a child process, read straight from its stdout."""
    code = _LOOP.format(n=lines, interval=INTERVAL_S)
    latencies: list[float] = []
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        for text in proc.stdout:
            latencies.append(time.time() - float(text))
    return latencies


def run(settings: Settings) -> Outcome:
    lines = settings.count(LINES, 5)
    p50s: dict[str, list[float]] = {kind: [] for kind in TASKS}
    p99s: dict[str, list[float]] = {kind: [] for kind in TASKS}
    baseline: list[float] = []
    with running("events") as daemon, Client(daemon.socket, timeout=60) as client:
        for task in TASKS.values():
            one_run(client, task, settings.count(10, 2))  # warm-up: workers, spawner
        for _ in range(settings.reps):
            for kind, task in TASKS.items():
                samples = one_run(client, task, lines)
                p50s[kind].append(stats.percentile(samples, 50))
                p99s[kind].append(stats.percentile(samples, 99))
            baseline.append(stats.percentile(pipe_baseline(lines), 50))
    base = stats.median(baseline)
    rows = []
    for sub, kind in (("a", "python"), ("b", "shell")):
        p50 = stats.median(p50s[kind])
        rows.append(
            Row(
                id=f"18{sub}",
                name=f"log line → subscribed client, {kind} task, idle daemon (p50)",
                figure=stats.ms(p50),
                baseline=f"{stats.ms(base)} (a pipe from a child process)",
                ratio=stats.ratio(p50, base),
                target="≤ 50 ms",
                met=p50 <= TARGET_S,
            )
        )
    notes = [
        f"{settings.reps} repetitions of one run of each task printing {lines} lines "
        f"{INTERVAL_S * 1000:g} ms apart (`bench-ticker`: python `print(time.time())`; "
        "`bench-ticker-shell`: `date +%s.%N`), subscribed to with "
        "`Client.subscribe(['log', 'run'], run_id=...)` during the run's first "
        f"{PAUSE_S * 1000:g} ms; latency = time the client decoded the event - the time "
        "in the line.",
        "Repetition p50s ranged "
        + ", ".join(f"{k} {stats.spread(v, stats.ms)}" for k, v in p50s.items())
        + "; p99: "
        + ", ".join(f"{k} {stats.ms(stats.median(v))}" for k, v in p99s.items())
        + ".",
        "What it includes: the line's way out of the task (python: the worker's stdout "
        "frame; shell: the spawner's pipe read), the run log's batch of that loop turn, "
        "its durable append (SQLite), the bus routing it to the subscription, the "
        "notification's write and the client's read and decode. Baseline: the same "
        "loop in a child process of the bench, read from its stdout pipe.",
    ]
    return Outcome(key="18", title="log line → subscriber, idle daemon", rows=rows, notes=notes)
