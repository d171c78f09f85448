"""How fast this host is, in two fixed figures, so that runs on different machines (or
the same VM on a slower day) can be compared: the absolute targets assume a given class
of machine, and these say how far this one is from it.

- ``python_ms``: a fixed pure-Python workload (calls, dict and str work, a generator),
  best of several: the interpreter's speed, which bounds every figure the daemon's own
  code sets.
- ``ipc_us``: one byte each way over a socketpair between two processes, median: the
  cost of a process wake-up, which bounds every round-trip figure.
"""

from __future__ import annotations

import os
import socket
import statistics
import time

import msgspec

WORKLOAD_REPS = 7
PINGS = 5000


class HostSpeed(msgspec.Struct, frozen=True):
    python_ms: float
    ipc_us: float

    def describe(self) -> str:
        return (
            f"reference Python workload {self.python_ms:.1f} ms (best of {WORKLOAD_REPS}), "
            f"process-to-process socketpair round trip {self.ipc_us:.1f} µs (median of "
            f"{PINGS:,})"
        )


def _workload() -> int:
    counts: dict[str, int] = {}
    total = 0
    for i in range(60_000):
        key = f"k{i % 97}"
        counts[key] = counts.get(key, 0) + 1
        total += len(key) + _square(i)
    return total + sum(v for v in counts.values())


def _square(n: int) -> int:
    return n * n


def _python_ms() -> float:
    best = float("inf")
    for _ in range(WORKLOAD_REPS):
        t0 = time.perf_counter()
        _workload()
        best = min(best, time.perf_counter() - t0)
    return best * 1000


def _ipc_us() -> float:
    parent, child = socket.socketpair()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the echoing child
        parent.close()
        try:
            while data := child.recv(1):
                child.sendall(data)
        finally:
            os._exit(0)
    child.close()
    times = []
    try:
        for _ in range(PINGS):
            t0 = time.perf_counter()
            parent.sendall(b"x")
            parent.recv(1)
            times.append(time.perf_counter() - t0)
    finally:
        parent.close()
        os.waitpid(pid, 0)
    return statistics.median(times) * 1e6


def measure() -> HostSpeed:
    return HostSpeed(python_ms=_python_ms(), ipc_us=_ipc_us())


if __name__ == "__main__":
    print(measure().describe())
