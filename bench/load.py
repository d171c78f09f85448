"""Concurrent submit-and-wait load from client processes, with the daemon's CPU use
over the same span (which tells whether the daemon's loop is the bottleneck)."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time

import msgspec
import psutil

from bench.harness import PING, BenchDaemon, helpers
from bench.stats import percentile

logger = logging.getLogger(__name__)


class Load(msgspec.Struct, kw_only=True):
    runs: int
    failed: int
    seconds: float
    daemon_cpu_s: float
    clients_cpu_s: float
    machine_busy: float
    """Share of all CPUs busy over the span (0..1), every process on the machine."""
    ping_p50_s: float
    ping_p99_s: float
    """``daemon.ping`` answered during the load (a probe every few ms): how long the
    event loop takes to get to a trivial request while busy."""

    @property
    def rate(self) -> float:
        return self.runs / self.seconds

    @property
    def daemon_cpu_share(self) -> float:
        """Daemon CPU seconds per wall second (1.0 = one core busy all along)."""
        return self.daemon_cpu_s / self.seconds

    @property
    def daemon_cpu_per_run_s(self) -> float:
        return self.daemon_cpu_s / max(self.runs, 1)

    def breakdown(self, cpus: int) -> str:
        """Where the machine's CPU went per run: daemon, clients, everything else
        (task processes, workers, other users of the machine)."""
        runs = max(self.runs, 1)
        total = self.machine_busy * cpus * self.seconds
        other = max(total - self.daemon_cpu_s - self.clients_cpu_s, 0.0)
        return (
            f"per run: daemon {self.daemon_cpu_s / runs * 1e6:.0f} µs CPU, clients "
            f"{self.clients_cpu_s / runs * 1e6:.0f} µs, the rest (workers or commands, "
            f"other load) {other / runs * 1e6:.0f} µs; the daemon process used "
            f"{self.daemon_cpu_share:.2f} CPU, the machine was {self.machine_busy:.0%} busy; "
            f"a ping took {self.ping_p50_s * 1e3:.2f} ms p50, {self.ping_p99_s * 1e3:.1f} ms "
            "p99 meanwhile"
        )


def submit_load(
    daemon: BenchDaemon, task: str, clients: int, per_client: int, deadline_s: float
) -> Load:
    """``clients`` processes each submitting ``per_client`` runs (or until the deadline),
    all released at once after their warm-up."""
    args = [daemon.socket, task, str(per_client), str(deadline_s)]
    with helpers([("loadclient", args)] * clients) as procs:
        for proc in procs:
            if proc.wait_line(120) != b"ready":
                raise RuntimeError("load client did not get ready")
        probe = PingProbe(daemon.socket)
        cpu0, busy0 = daemon.cpu_seconds(), _busy()
        t0 = time.monotonic()
        for proc in procs:
            proc.go()
        probe.start()
        try:
            results = [json.loads(proc.finish(deadline_s + 120)) for proc in procs]
        finally:
            pings = probe.stop()
        t1 = time.monotonic()
        cpu1, busy1 = daemon.cpu_seconds(), _busy()
    start = min(r["start"] for r in results)
    end = max(r["end"] for r in results)
    span = end - start
    # CPU was sampled around [t0, t1], slightly wider than [start, end]: scale it down.
    share = span / max(t1 - t0, span)
    return Load(
        runs=sum(r["n"] for r in results),
        failed=sum(r["failed"] for r in results),
        seconds=span,
        daemon_cpu_s=(cpu1 - cpu0) * share,
        clients_cpu_s=sum(r["cpu"] for r in results),
        machine_busy=(busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1e-9),
        ping_p50_s=percentile(pings, 50) if pings else 0.0,
        ping_p99_s=percentile(pings, 99) if pings else 0.0,
    )


class PingProbe(threading.Thread):
    """Pings the daemon on one connection every ``interval`` seconds until stopped."""

    def __init__(self, path: str, interval: float = 0.005) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.interval = interval
        self.latencies: list[float] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(60)
            sock.connect(self.path)
            while not self._stop_event.wait(self.interval):
                t0 = time.perf_counter()
                sock.sendall(PING)
                data = b""
                while not data.endswith(b"\n"):
                    chunk = sock.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                self.latencies.append(time.perf_counter() - t0)

    def stop(self) -> list[float]:
        self._stop_event.set()
        self.join(70)
        return self.latencies


def _busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far."""
    t = psutil.cpu_times()
    idle = t.idle + getattr(t, "iowait", 0.0)
    total = sum(t)
    return total - idle, total
