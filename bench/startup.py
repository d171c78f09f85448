"""Benchmark 8: daemon start to ready, and its idle memory.

Ready is taken two ways from the same start: the first ``daemon.ping`` answered (a
thread polls the socket every millisecond) and the ``READY=1`` datagram the daemon sends
to ``$NOTIFY_SOCKET`` (an AF_UNIX datagram socket bound by the bench). Idle RSS is read
once the prestarted python worker is up: the daemon and its workers separately.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import threading
import time
from datetime import datetime

import psutil

from bench import stats
from bench.harness import BenchDaemon, ping_once, temp_base
from bench.report import Outcome, Row
from bench.settings import Settings
from seqd.client import Client

logger = logging.getLogger(__name__)

TIMEOUT_S = 60.0


class PingPoller(threading.Thread):
    """Pings ``path`` until it answers; ``answered`` is the perf_counter time of that."""

    def __init__(self, path: str) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.answered: float | None = None
        self.give_up = threading.Event()

    def run(self) -> None:
        while not self.give_up.is_set():
            if ping_once(self.path, timeout=TIMEOUT_S):
                self.answered = time.perf_counter()
                return
            time.sleep(0.001)


def wait_ready_datagram(sock: socket.socket) -> float:
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        data = sock.recv(4096)  # raises TimeoutError past the deadline
        if b"READY=1" in data.split(b"\n"):
            return time.perf_counter()


PHASES = (
    ("imports", "seqd.daemon.app: seqd "),
    ("plugins + storage", "seqd.daemon.app: storage:"),
    ("task types + catalog", "seqd.catalog.catalog: tasks loaded"),
    ("engine + listen", "seqd.daemon.app: ready:"),
)
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


def phases(log: str, spawned_at: float) -> dict[str, float]:
    """Seconds spent in each start-up phase, from the daemon log's timestamps (ms)."""
    out: dict[str, float] = {}
    previous = spawned_at
    for name, marker in PHASES:
        for line in log.splitlines():
            found = _STAMP.match(line)
            if found and marker in line:
                at = datetime.strptime(found[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()
                out[name] = at - previous
                previous = at
                break
    return out


def one_start(
    daemon: BenchDaemon, notify_path: str
) -> tuple[float, float, float, dict[str, float]]:
    """(spawn → ping answered, spawn → READY=1, SIGTERM → exit) in seconds, and the
    start-up phases."""
    offset = daemon.log_path.stat().st_size if daemon.log_path.exists() else 0
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(notify_path)
        poller = PingPoller(daemon.socket)
        try:
            spawned_at = time.time()
            t0 = time.perf_counter()
            daemon.spawn({"NOTIFY_SOCKET": notify_path})
            poller.start()
            ready = wait_ready_datagram(notify)
            poller.join(TIMEOUT_S)
            if poller.answered is None:
                raise RuntimeError(f"seqd never answered a ping:\n{daemon.log_tail()}")
        finally:
            poller.give_up.set()
            with contextlib.suppress(OSError):
                os.unlink(notify_path)
    stop_s = _stop(daemon)
    with open(daemon.log_path, encoding="utf-8", errors="replace") as fh:
        fh.seek(offset)
        log = fh.read()
    return poller.answered - t0, ready - t0, stop_s, phases(log, spawned_at)


def _stop(daemon: BenchDaemon) -> float:
    t0 = time.perf_counter()
    daemon.stop()
    return time.perf_counter() - t0


def idle_memory(daemon: BenchDaemon) -> tuple[int, list[int], list[int], dict[str, int]]:
    """Daemon RSS, the RSS of each worker process and of the spawner, once the pool is
    warm and the daemon has sat idle for a second."""
    deadline = time.monotonic() + TIMEOUT_S
    with Client(daemon.socket, timeout=30) as client:
        while client.status().workers.pools.get("python", {}).get("idle", 0) < 1:
            if time.monotonic() > deadline:
                raise RuntimeError("the python worker pool never warmed up")
            time.sleep(0.05)
        time.sleep(1.0)
        pool = dict(client.status().workers.pools.get("python", {}))
    workers = []
    spawners = []
    for child in daemon.process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            cmdline = " ".join(child.cmdline())
            if "seqd.runtime.worker" in cmdline:
                workers.append(int(child.memory_info().rss))
            elif "seqd.runtime.spawner" in cmdline:
                spawners.append(int(child.memory_info().rss))
    return daemon.rss(), workers, spawners, pool


def run(settings: Settings) -> Outcome:
    to_ping: list[float] = []
    to_ready: list[float] = []
    stops: list[float] = []
    split: dict[str, list[float]] = {}
    with temp_base("start") as base:
        daemon = BenchDaemon(base)
        notify_path = str(base / "notify.sock")
        try:
            daemon.start()  # creates the store; also warms the page cache
            daemon.stop()
            for _ in range(settings.reps):
                ping_s, ready_s, stop_s, parts = one_start(daemon, notify_path)
                to_ping.append(ping_s)
                to_ready.append(ready_s)
                stops.append(stop_s)
                for name, seconds in parts.items():
                    split.setdefault(name, []).append(seconds)
            daemon.start()
            rss, workers, spawners, pool = idle_memory(daemon)
        finally:
            daemon.stop()
    ping50, ready50 = stats.median(to_ping), stats.median(to_ready)
    rows = [
        Row(id="8a", name="start → first ping answered", figure=stats.duration(ping50)),
        Row(id="8b", name="start → READY=1 (NOTIFY_SOCKET)", figure=stats.duration(ready50)),
        Row(id="8c", name="idle RSS, daemon process", figure=stats.mib(rss)),
        Row(
            id="8d",
            name=f"idle RSS, python worker{'s' if len(workers) != 1 else ''} ({len(workers)})",
            figure=" + ".join(stats.mib(w) for w in workers) or "none found",
        ),
        Row(
            id="8e",
            name="idle RSS, shell spawner process",
            figure=" + ".join(stats.mib(w) for w in spawners) or "none found",
        ),
    ]
    notes = [
        f"{settings.reps} starts on an existing state dir (the first start, which creates "
        "the store, is not counted); time from just before `Popen` of `python -m seqd` "
        "until the first answered ping / the READY=1 datagram. Default settings: one "
        "prestarted python worker, which start-up waits for.",
        f"SIGTERM → exit (idle daemon): {stats.duration(stats.median(stops))}.",
        "Where start-up time goes (medians, from the daemon log's millisecond "
        "timestamps): "
        + ", ".join(f"{name} {stats.duration(stats.median(v))}" for name, v in split.items())
        + ". 'imports' is interpreter start to the first log line; 'task types' "
        "includes starting the prestarted python worker (another interpreter) and "
        "waiting for it.",
        f"Idle python pool: {pool} — besides the prestarted worker, catalog loading "
        "may start one to derive python tasks' input schemas from their signatures.",
    ]
    return Outcome(key="8", title="start-up and idle memory", rows=rows, notes=notes)
