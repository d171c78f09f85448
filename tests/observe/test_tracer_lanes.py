"""Each tracer on its own bounded lane: a slow or stuck tracer never holds up the
emitter, loses only its own events (counted), and a closing lane delivers what it has."""

from __future__ import annotations

import threading
import time
from typing import Any

from seqd import hookimpl
from seqd.plugins.host import PluginHost
from seqd.plugins.lanes import TracerLane
from seqd.plugins.tracing import DaemonLifecycle


class Stuck:
    name = "stuck"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.got: list[str] = []

    def on_event(self, event: Any) -> None:
        self.release.wait(60)
        self.got.append(event.phase)


class Quick:
    name = "quick"

    def __init__(self) -> None:
        self.got: list[str] = []

    def on_event(self, event: Any) -> None:
        self.got.append(event.phase)


def test_a_stuck_tracer_neither_blocks_emit_nor_the_others() -> None:
    stuck, quick = Stuck(), Quick()

    class Tracers:
        @hookimpl
        def seqd_register_tracers(self, register: Any) -> None:
            register(stuck)
            register(quick)

    host = PluginHost()
    host.register("t", Tracers())
    host.load(builtins=(), entry_points=False)

    def emit(first: int, count: int) -> None:
        started = time.perf_counter()
        for i in range(first, first + count):
            host.emit(DaemonLifecycle(ts="x", phase=str(i)))
        assert time.perf_counter() - started < 2.0  # nothing waited for the stuck tracer
        deadline = time.monotonic() + 30
        while host.tracer_stats()["quick"]["delivered"] < first + count:
            assert time.monotonic() < deadline, host.tracer_stats()
            time.sleep(0.01)

    # Two bursts, each within a lane's capacity (10,000): the quick tracer keeps up with
    # both; the stuck one's queue fills and it loses what does not fit.
    emit(0, 6_000)
    emit(6_000, 9_000)
    assert host.flush_tracers(timeout=0.2) is False  # the stuck one has not had them all
    stats = host.tracer_stats()
    assert stats["quick"] == {"queued": 0, "delivered": 15_000, "dropped": 0, "failed": 0}
    stuck_stats = stats["stuck"]
    assert stuck_stats["queued"] in (9_999, 10_000)  # and at most one in its hands
    assert stuck_stats["dropped"] + stuck_stats["queued"] in (14_999, 15_000)
    stuck.release.set()
    host.close_tracers(timeout=10)
    assert len(stuck.got) == 15_000 - host.tracer_stats()["stuck"]["dropped"]
    assert quick.got == [str(i) for i in range(15_000)]  # in order


def test_a_closing_lane_delivers_what_it_holds() -> None:
    quick = Quick()
    lane = TracerLane(quick, capacity=100, linger_s=0.05)
    for i in range(50):
        lane.put(DaemonLifecycle(ts="x", phase=str(i)))
    lane.close(timeout=5)
    assert quick.got == [str(i) for i in range(50)]
    lane.put(DaemonLifecycle(ts="x", phase="late"))  # closed: counted as dropped
    assert lane.stats()["dropped"] == 1
