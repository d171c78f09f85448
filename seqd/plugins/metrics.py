"""The metrics read interface: how an exporter plugin reads every metric of the daemon.

The daemon's registry (``seqd.observe``) implements ``MetricsReader`` and hands it to
plugins as ``DaemonInfo.metrics`` in ``seqd_startup``. A reading is a list of
``seqd.model.metrics.Family``: name, kind (``counter``, ``gauge``, ``histogram``),
help, histogram bucket bounds, and every labelled series with its value (or count,
sum and cumulative bucket counts). Values are as of the moment of the read; counters
start at 0 when the daemon starts.

Its own module because it is the contract exporters (the Prometheus exporter built
in, ``seqd-otel`` and any third-party one) are written against, apart from how the
registry stores anything.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from seqd.model.metrics import Family


@runtime_checkable
class MetricsReader(Protocol):
    def families(self) -> list[Family]:
        """Every metric now. Call it on the daemon's event loop (in a hook, or in a
        coroutine the plugin runs there); it takes a consistent copy and is cheap."""

    def families_threadsafe(self, timeout: float = 5.0) -> list[Family]:
        """The same, from any other thread (an exporter's own thread): the copy is
        taken on the event loop, this thread waits for it up to ``timeout`` seconds
        (``TimeoutError`` past it). Never call it on the event loop itself."""
