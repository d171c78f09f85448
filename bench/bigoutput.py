"""Benchmark 7: a shell task writing 1 GiB to stdout (1000-byte lines) must not grow
the daemon: its output goes to a file the daemon tails, truncated past the log cap."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import psutil

from bench import stats
from bench.harness import running, timed_run
from bench.report import Outcome, Row
from bench.settings import Settings
from seqd.client import Client

logger = logging.getLogger(__name__)

COMMAND = "head -c 1G /dev/zero | tr '\\0' x | fold -w 1000"
TARGET_BYTES = 10 * 2**20
REPS_MAX = 3
SAMPLE_S = 0.005


class Sampler(threading.Thread):
    """The daemon's RSS every few milliseconds, until stopped; keeps the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                rss = int(self.process.memory_info().rss)
            except psutil.Error:
                return
            self.peak = max(self.peak, rss)
            self.samples += 1
            self._stop_event.wait(SAMPLE_S)

    def stop(self) -> int:
        self._stop_event.set()
        self.join(10)
        return self.peak


def raw_command_s(directory: Path) -> float:
    """The command alone, its output to a file on the daemon's file system (what the
    daemon has it do), the file removed afterwards."""
    out = directory / "bare-output.txt"
    try:
        return timed_run(["sh", "-c", f'{COMMAND} > "$1"', "sh", str(out)], timeout=300)
    finally:
        out.unlink(missing_ok=True)


def run(settings: Settings) -> Outcome:
    reps = max(1, min(settings.reps, REPS_MAX))
    growth: list[float] = []
    times: list[float] = []
    raw: list[float] = []
    cpu: list[float] = []
    samples = 0
    with running("bigout") as daemon, Client(daemon.socket, timeout=60) as client:
        for _ in range(3):
            client.submit("bench-true", wait=True, timeout_s=30)
        time.sleep(0.5)
        idle_samples = []
        for _ in range(20):
            idle_samples.append(daemon.rss())
            time.sleep(0.01)
        idle = stats.median(idle_samples)
        log_cap = client.status().limits.log_cap_bytes
        for _ in range(reps):
            raw.append(raw_command_s(daemon.base))
            sampler = Sampler(daemon.pid)
            sampler.start()
            cpu0 = daemon.cpu_seconds()
            t0 = time.perf_counter()
            done = client.submit("bench-gigabyte", wait=True, timeout_s=600)
            elapsed = time.perf_counter() - t0
            cpu.append(daemon.cpu_seconds() - cpu0)
            time.sleep(0.2)  # tailing may finish just after the run is reported
            peak = sampler.stop()
            samples += sampler.samples
            if done.status != "succeeded":
                raise RuntimeError(f"bench-gigabyte ended {done.status}: {done.error}")
            growth.append(peak - idle)
            times.append(elapsed)
        final_rss = daemon.rss()
    peak_growth = stats.median(growth)
    run_s, raw_s = stats.median(times), stats.median(raw)
    rows = [
        Row(
            id="7a",
            name="1 GiB to stdout: daemon peak RSS growth",
            figure=stats.mib(peak_growth),
            baseline=f"{stats.mib(idle)} (idle RSS before)",
            target="≤ 10 MB (read as MiB)",
            met=peak_growth <= TARGET_BYTES,
        ),
        Row(
            id="7b",
            name="1 GiB to stdout: run time (submit+wait)",
            figure=stats.duration(run_s),
            baseline=f"{stats.duration(raw_s)} (command > file)",
            ratio=stats.ratio(run_s, raw_s),
        ),
    ]
    notes = [
        f"`{COMMAND}` as a shell task (default log cap, {stats.mib(log_cap)} per run); "
        f"{reps} repetitions, each after the same command run bare with its output "
        "to a file on the same file system (the baseline of 7b). The daemon's RSS was "
        f"sampled every {SAMPLE_S * 1000:.0f} ms "
        f"({samples:,} samples); growth = peak during the run - the idle RSS before the "
        "first run, so growth left over from an earlier repetition counts too. "
        f"Growth per repetition: {', '.join(stats.mib(g) for g in growth)}; RSS after "
        f"all: {stats.mib(final_rss)}.",
        f"Daemon CPU during the run: {stats.duration(stats.median(cpu))} "
        f"({stats.median(cpu) / run_s:.2f} CPU over the run). The command writes to a pipe "
        "read by the daemon's spawner process, which sends the output to the daemon up "
        "to the cap, then reads and drops the rest: on 2 CPUs that reading competes "
        "with the command, hence 7b's ratio.",
    ]
    return Outcome(key="7", title="1 GiB of stdout", rows=rows, notes=notes)
