"""``Observability``: the daemon's metrics and alerts, assembled from the config.

The daemon builds one at start and hands its parts to the parts that record: the
engine gets ``runs`` (and ``custom`` for task metrics), the dispatcher, the tool
service and the storage get the ``calls`` recorders, the scheduler ``schedules``.
Reading is ``families()`` / ``exposition()``; ``start`` binds the registry to the loop
and starts the HTTP exporter and the alert engine, which need what only the
assembled daemon has (storage, a way to submit runs, the plugins' hook).

Its own module because it is the one place that knows which recorders exist and
whether metrics are on; everything else gets a recorder or None.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from seqd.config.observe import AlertsSettings, MetricsSettings
from seqd.model.metrics import Family
from seqd.observe.alerts import AlertEngine
from seqd.observe.calls import CallMetrics
from seqd.observe.custom import CustomMetrics
from seqd.observe.gauges import DaemonGauges, EngineStats, TracerStats
from seqd.observe.notify import Hook, Notifier, Submit
from seqd.observe.registry import Registry
from seqd.observe.runs import RunMetrics
from seqd.observe.schedules import ScheduleMetrics
from seqd.plugins.storage import StorageBackend

if TYPE_CHECKING:
    from seqd.observe.exporter import HttpExporter


class Observability:
    def __init__(self, metrics: MetricsSettings, alerts: AlertsSettings) -> None:
        self.settings = metrics
        self.alert_settings = alerts
        self.enabled = metrics.enabled
        self.registry = Registry()
        registry = self.registry if self.enabled else None
        self.runs = RunMetrics(registry)
        self.custom = CustomMetrics(self.registry, metrics) if self.enabled else None
        self.schedules = ScheduleMetrics(self.registry) if self.enabled else None
        self.calls: CallMetrics | None = None
        self.gauges: DaemonGauges | None = None
        self.alerts: AlertEngine | None = None
        self.exporter: HttpExporter | None = None
        if not self.enabled:
            # ``seqd_runs`` stays readable: the counts are kept in any case.
            self.registry.collector(self.runs.count_families)

    def record_calls(self, methods: Iterable[str], tool_exists: Callable[[str], bool]) -> None:
        """Create the RPC, tool and storage recorders (``calls``), when enabled."""
        if self.enabled:
            self.calls = CallMetrics(self.registry, methods, tool_exists)

    def record_daemon(self, engine: EngineStats, tracers: TracerStats) -> None:
        """Add the read-time gauges of the process, the queue and the tracers."""
        if self.enabled:
            self.gauges = DaemonGauges(engine, tracers)
            self.registry.collector(self.gauges)

    async def start(self, storage: StorageBackend, submit: Submit, hook: Hook) -> None:
        """Bind to the running loop, start the exporter (if ``listen`` is set) and the
        alert engine (if there are rules). Raises ``OSError`` when the exporter's
        address cannot be bound."""
        self.registry.bind(asyncio.get_running_loop())
        if self.enabled and self.settings.listen is not None:
            # prometheus_client (and the ssl and http modules it loads) is imported
            # only when used: ~40 ms of every daemon start otherwise.
            from seqd.observe.exporter import HttpExporter

            exporter = HttpExporter(self.registry, self.settings.listen, self.settings.allow_remote)
            await asyncio.to_thread(exporter.start)
            self.exporter = exporter
        if self.enabled and self.gauges is not None and self.alert_settings.rules:
            self.alerts = AlertEngine(
                self.alert_settings,
                registry=self.registry,
                runs=self.runs,
                rss=self.gauges.rss_bytes,
                storage=storage,
                notifier=Notifier(submit, hook),
            )
            await self.alerts.start()

    async def stop(self) -> None:
        if self.alerts is not None:
            await self.alerts.stop()
        if self.exporter is not None:
            await asyncio.to_thread(self.exporter.stop)
            self.exporter = None

    # -- reading ---------------------------------------------------------------------

    def families(self, prefix: str | None = None) -> list[Family]:
        found = self.registry.families()
        return found if prefix is None else [f for f in found if f.name.startswith(prefix)]

    @staticmethod
    def exposition(families: list[Family]) -> bytes:
        """``families`` in the Prometheus text format. CPU work that grows with the
        series: call it in a thread with a reading taken on the loop."""
        from seqd.observe.exposition import render  # imported when first used (see start)

        return render(families)
