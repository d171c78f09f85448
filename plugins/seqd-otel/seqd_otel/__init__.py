"""seqd-otel: seqd's traces and metrics as OpenTelemetry, sent with the official SDK.

Installed beside seqd it is found through the ``seqd`` entry-point group, and does
nothing until OpenTelemetry is configured the standard way: an OTLP endpoint
(``OTEL_EXPORTER_OTLP_ENDPOINT``, or the per-signal ``..._TRACES_ENDPOINT`` and
``..._METRICS_ENDPOINT``) or ``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER`` set
to ``otlp`` or ``console``; ``OTEL_SDK_DISABLED=true`` or an exporter of ``none`` turn
a signal off. Everything else (service name, resource attributes, headers, batch
sizes, ``OTEL_METRIC_EXPORT_INTERVAL``) is the SDK's own environment; one variable is
the plugin's own: ``SEQD_OTEL_STORAGE_SPANS=false`` leaves storage-call spans out. See
the README.

The SDK is imported only when the plugin is on: a daemon without a collector does not
pay for it at start-up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Literal

from seqd import hookimpl
from seqd.plugins.daemoninfo import DaemonInfo
from seqd.plugins.tracing import Tracer

if TYPE_CHECKING:
    from seqd_otel.metrics import MetricsPusher
    from seqd_otel.tracer import OtelTracer

logger = logging.getLogger(__name__)

STORAGE_SPANS = "SEQD_OTEL_STORAGE_SPANS"
"""``false`` leaves storage calls out (they are most of the spans: several per run)."""
SHUTDOWN_S = 5.0
"""How long the daemon's stop waits for the last spans (and metrics) to be sent."""
READ_TIMEOUT_S = 5.0
"""How long a metrics push waits for the event loop to hand over a reading."""

Signal = Literal["traces", "metrics"]

_tracers: list[OtelTracer] = []
_pushers: list[MetricsPusher] = []


def exporter_name(env: Mapping[str, str], signal: Signal = "traces") -> str | None:
    """Which exporter the environment asks for a signal (``otlp``, ``console``), or
    None when OpenTelemetry or that signal is off or not configured."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    chosen = env.get(f"OTEL_{signal.upper()}_EXPORTER", "").strip().lower()
    if chosen:
        first = chosen.split(",")[0].strip()
        return first if first in ("otlp", "console") else None
    endpoint = env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT") or env.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    return "otlp" if endpoint else None


@hookimpl
def seqd_register_tracers(register: Callable[[Tracer], None]) -> None:
    import os

    name = exporter_name(os.environ)
    if name is None:
        return
    from seqd_otel.tracer import OtelTracer, make_processor

    storage = os.environ.get(STORAGE_SPANS, "true").strip().lower() not in ("false", "0", "no")
    tracer = OtelTracer(make_processor(name), storage_spans=storage)
    _tracers.append(tracer)
    register(tracer)
    logger.info("OpenTelemetry: exporting spans (%s)", name)


@hookimpl
def seqd_startup(daemon: DaemonInfo) -> None:
    import os

    for tracer in _tracers:
        tracer.describe(daemon.version, daemon.node)
    name = exporter_name(os.environ, "metrics")
    if name is None:
        return
    if daemon.metrics is None:
        logger.warning("OpenTelemetry: metrics.enabled is false, so there are no metrics to export")
        return
    from seqd_otel.metrics import (
        INTERVAL_MS,
        TIMEOUT_MS,
        MetricsPusher,
        env_ms,
        make_metric_exporter,
    )
    from seqd_otel.resource import default_resource, described

    reader = daemon.metrics
    interval = env_ms(os.environ, "OTEL_METRIC_EXPORT_INTERVAL", INTERVAL_MS)
    pusher = MetricsPusher(
        lambda: reader.families_threadsafe(READ_TIMEOUT_S),
        make_metric_exporter(name),
        described(default_resource(), daemon.version, daemon.node),
        interval_ms=interval,
        timeout_ms=env_ms(os.environ, "OTEL_METRIC_EXPORT_TIMEOUT", TIMEOUT_MS),
    )
    _pushers.append(pusher)
    logger.info("OpenTelemetry: exporting metrics every %d ms (%s)", interval, name)


@hookimpl
async def seqd_shutdown(daemon: DaemonInfo) -> None:
    while _pushers:
        pusher = _pushers.pop()
        await asyncio.to_thread(pusher.close, SHUTDOWN_S)
    while _tracers:
        tracer = _tracers.pop()
        await asyncio.to_thread(tracer.close, SHUTDOWN_S)
