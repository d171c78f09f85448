"""Benchmark 20: an admin's ping while the socket is flooded (issue 18, items 9-10).

The bench (the daemon's own user: an admin) holds each flood open while it times pings,
each on a fresh connection so admission is included: thousands of idle connections,
20,000 ``runs.wait`` pipelined on one connection (past ``max_pending_per_connection``
they are refused at once), and connections holding 15 MB partial lines (past
``max_buffered_bytes_total`` they are closed). The daemon's RSS growth is reported
beside each. Baseline: the same pings with no flood.
"""

from __future__ import annotations

import contextlib
import json
import resource
import socket
import threading
import time
from collections.abc import Callable, Iterator

import psutil

from bench import stats
from bench.harness import ping_once, running
from bench.report import Outcome, Row
from bench.settings import Settings
from seqd.client import Client

TARGET_S = 0.050
MIB = 1024 * 1024


def ping_times(path: str, count: int) -> list[float]:
    """Seconds of each of ``count`` pings, each on a fresh connection."""
    took = []
    for _ in range(count):
        started = time.perf_counter()
        if not ping_once(path, timeout=10):
            raise RuntimeError("the daemon refused or dropped the admin's ping")
        took.append(time.perf_counter() - started)
    return took


@contextlib.contextmanager
def idle_connections(path: str, count: int) -> Iterator[None]:
    held = [socket.socket(socket.AF_UNIX) for _ in range(count)]
    try:
        for s in held:
            s.connect(path)
        yield
    finally:
        for s in held:
            s.close()


@contextlib.contextmanager
def pipelined_waits(path: str, run_id: str, count: int) -> Iterator[None]:
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    reader = threading.Thread(target=_drain, args=(s,), daemon=True)
    reader.start()
    line = {"jsonrpc": "2.0", "method": "runs.wait", "params": {"id": run_id, "timeout_s": 600}}
    s.sendall(b"".join(json.dumps({**line, "id": i}).encode() + b"\n" for i in range(count)))
    try:
        yield
    finally:
        s.close()


def _drain(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while s.recv(1 << 20):
            pass


@contextlib.contextmanager
def partial_lines(path: str, count: int, size: int) -> Iterator[None]:
    head = b'{"jsonrpc":"2.0","id":1,"method":"daemon.ping","params":{"x":"'
    held = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            held.append(s)
            with contextlib.suppress(OSError):  # refused past the total: closed
                s.sendall(head + b"a" * size)
        yield
    finally:
        for s in held:
            s.close()


def run(settings: Settings) -> Outcome:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    pings = settings.count(200, 20)
    idle = settings.count(4000, 200)
    waits = settings.count(20000, 2000)
    rows: list[Row] = []
    notes: list[str] = []
    try:
        with running("floods") as daemon, Client(daemon.socket, timeout=60) as client:
            path = daemon.socket
            proc = psutil.Process(daemon.pid)
            run_ = client.submit("bench-sleeper")  # a durable sleep of an hour: waits wait
            floods: dict[str, tuple[str, Callable[[], contextlib.AbstractContextManager[None]]]] = {
                "b": (f"{idle:,} idle connections", lambda: idle_connections(path, idle)),
                "c": (
                    f"{waits:,} runs.wait pipelined on one connection",
                    lambda: pipelined_waits(path, run_.id, waits),
                ),
                "d": (
                    "40 connections holding 15 MB partial lines",
                    lambda: partial_lines(path, 40, 15 * MIB),
                ),
            }
            base: list[float] = []
            figures: dict[str, list[float]] = {k: [] for k in floods}
            grown: dict[str, list[int]] = {k: [] for k in floods}
            for _ in range(settings.reps):
                base.append(stats.percentile(ping_times(path, pings), 50))
                for key, (_, flood) in floods.items():
                    before = proc.memory_info().rss
                    with flood():
                        time.sleep(0.5)  # the daemon has taken it in
                        figures[key].append(stats.percentile(ping_times(path, pings), 50))
                        grown[key].append(proc.memory_info().rss - before)
                    time.sleep(0.5)
            client.cancel(run_.id)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    idle_p50 = stats.median(base)
    rows.append(
        Row(id="23a", name="admin ping p50, fresh connection, no flood", figure=stats.ms(idle_p50))
    )
    for key, (title, _) in floods.items():
        p50 = stats.median(figures[key])
        rows.append(
            Row(
                id=f"23{key}",
                name=f"admin ping p50 during {title}; RSS +{max(grown[key]) / MIB:.0f} MiB at most",
                figure=stats.ms(p50),
                baseline=f"{stats.ms(idle_p50)} (no flood)",
                ratio=stats.ratio(p50, idle_p50),
                target="≤ 50 ms",
                met=p50 <= TARGET_S,
            )
        )
    notes.append(
        f"{settings.reps} repetitions; each figure is the median of the repetitions' p50 "
        f"of {pings} pings, each on a fresh connection (admission included), sent by the "
        "daemon's own user (an admin: the per-uid cap does not apply to it, the limits on "
        "waits and buffered bytes do). Default `[limits]`. RSS: the daemon's growth while "
        "the flood was held, the largest of the repetitions."
    )
    return Outcome(key="23", title="an admin's ping during socket floods", rows=rows, notes=notes)
