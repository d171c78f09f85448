"""★ The wire types of metrics and alerts: ``metrics.get``, ``alerts.list``,
``alerts.history``, and the tracers' delivery counts ``daemon.status`` reports.

Its own module beside ``protocol`` (which lists the methods in ``METHODS``) because
these are one area of the API.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from seqd.model.alerts import AlertEvent, LiveState
from seqd.model.metrics import Family
from seqd.rpc.params import Limit, Params


class MetricsGetParams(Params, kw_only=True):
    format: Literal["json", "prometheus"] = "json"
    prefix: Annotated[str, Meta(max_length=200)] | None = None
    """Only metrics whose name starts with this."""


class MetricsResult(msgspec.Struct, kw_only=True, omit_defaults=True):
    enabled: bool
    """False when ``metrics.enabled`` is off (then only ``seqd_runs`` is there)."""
    families: list[Family] = []
    """``format: "json"``: every metric with its series."""
    text: str | None = None
    """``format: "prometheus"``: the Prometheus text format (version 0.0.4)."""


class TracerInfo(msgspec.Struct, kw_only=True):
    queued: int
    delivered: int
    dropped: int
    """Events lost because the tracer was behind (its queue was full)."""
    failed: int
    """Events its ``on_event`` raised on."""


class AlertInfo(msgspec.Struct, kw_only=True):
    name: str
    kind: str
    severity: str
    state: LiveState
    since: str | None = None
    """When it became pending or firing."""
    value: float | None = None
    """What the condition measured at the last evaluation."""
    message: str = ""
    evaluated_at: str | None = None


class AlertsResult(msgspec.Struct, kw_only=True):
    alerts: list[AlertInfo]
    interval_s: float
    """How often the rules are evaluated."""


class AlertHistoryParams(Params, kw_only=True):
    rule: Annotated[str, Meta(min_length=1, max_length=128)] | None = None
    before: Annotated[int, Meta(ge=1)] | None = None
    """Only events older than this seq (``next_before`` of the previous page)."""
    limit: Limit = 50


class AlertHistoryResult(msgspec.Struct, kw_only=True):
    events: list[AlertEvent]
    next_before: int | None = None
    """Pass as ``before`` for the next page; None on the last page."""
