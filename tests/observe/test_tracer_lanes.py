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
    started = time.perf_counter()
    for i in range(20_000):
        host.emit(DaemonLifecycle(ts="x", phase=str(i)))
    assert time.perf_counter() - started < 2.0  # nothing waited for the stuck tracer
    assert host.flush_tracers(timeout=0.5) is False  # stuck: not everything delivered
    stats = host.tracer_stats()
    assert stats["quick"]["delivered"] == 20_000 and stats["quick"]["dropped"] == 0
    # the stuck one holds at most one event in hand and 10,000 queued: the rest dropped
    stuck_stats = stats["stuck"]
    assert stuck_stats["queued"] == 10_000 or stuck_stats["queued"] == 9_999
    assert stuck_stats["dropped"] + stuck_stats["queued"] + 1 == 20_000
    stuck.release.set()
    host.close_tracers(timeout=10)
    assert len(stuck.got) == 20_000 - host.tracer_stats()["stuck"]["dropped"]
    assert quick.got == [str(i) for i in range(20_000)]  # in order


def test_a_closing_lane_delivers_what_it_holds() -> None:
    quick = Quick()
    lane = TracerLane(quick, capacity=100, linger_s=0.05)
    for i in range(50):
        lane.put(DaemonLifecycle(ts="x", phase=str(i)))
    lane.close(timeout=5)
    assert quick.got == [str(i) for i in range(50)]
    lane.put(DaemonLifecycle(ts="x", phase="late"))  # closed: counted as dropped
    assert lane.stats()["dropped"] == 1
