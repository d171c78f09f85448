"""seqd-otel: seqd's traces as OpenTelemetry spans, sent with the official SDK.

Installed beside seqd it is found through the ``seqd`` entry-point group, and does
nothing until OpenTelemetry is configured the standard way: an OTLP endpoint
(``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) or
``OTEL_TRACES_EXPORTER=otlp|console``; ``OTEL_SDK_DISABLED=true`` or
``OTEL_TRACES_EXPORTER=none`` turn it off. Everything else (service name, resource
attributes, headers, batch sizes) is the SDK's own environment; one variable is the
plugin's own: ``SEQD_OTEL_STORAGE_SPANS=false`` leaves storage-call spans out. See the
README.

The SDK is imported only when the plugin is on: a daemon without a collector does not
pay for it at start-up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from seqd import hookimpl
from seqd.plugins.daemoninfo import DaemonInfo
from seqd.plugins.tracing import Tracer

if TYPE_CHECKING:
    from seqd_otel.tracer import OtelTracer

logger = logging.getLogger(__name__)

STORAGE_SPANS = "SEQD_OTEL_STORAGE_SPANS"
"""``false`` leaves storage calls out (they are most of the spans: several per run)."""
SHUTDOWN_S = 5.0
"""How long the daemon's stop waits for the last spans to be sent."""

_tracers: list[OtelTracer] = []


def exporter_name(env: Mapping[str, str]) -> str | None:
    """Which span exporter the environment asks for (``otlp``, ``console``), or None
    when OpenTelemetry is off or not configured."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    chosen = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if chosen:
        first = chosen.split(",")[0].strip()
        return first if first in ("otlp", "console") else None
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
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
    for tracer in _tracers:
        tracer.describe(daemon.version, daemon.node)


@hookimpl
async def seqd_shutdown(daemon: DaemonInfo) -> None:
    while _tracers:
        tracer = _tracers.pop()
        await asyncio.to_thread(tracer.close, SHUTDOWN_S)
