"""``[metrics]`` and ``[alerts]``: what the daemon counts, where it exports it, and the
alert rules it watches.

Its own module because alert rules are a small language of their own (five kinds, each
with its own required fields, durations and sizes as people write them), checked here
when the config is read, so a wrong rule stops the daemon at start naming the rule
and the field instead of failing later.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from seqd.errors import ValidationFailed
from seqd.model.durations import parse_duration, parse_size
from seqd.model.metrics import LABEL_NAME_PATTERN, METRIC_NAME_PATTERN
from seqd.model.tasks import TASK_NAME_PATTERN

RULE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
RuleKind = Literal["threshold", "consecutive_failures", "run_duration", "queue_wait", "rss"]
Function = Literal["value", "rate", "increase"]
Comparison = Literal[">", ">=", "<", "<=", "=="]


class _Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


def parse_listen(text: str, allow_remote: bool, field: str = "metrics.listen") -> tuple[str, int]:
    """``(host, port)`` of ``"127.0.0.1:9464"``, ``"[::1]:9464"`` or
    ``"localhost:9464"``. A host that is not a loopback address is refused unless
    ``allow_remote``: the exporter has no authentication."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValidationFailed(
            f"{field}: {text!r} must be HOST:PORT with a port from 1 to 65535",
            {"field": field},
        )
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host == "localhost":
        return host, int(port_text)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValidationFailed(
            f"{field}: {host!r} must be an IP address or localhost", {"field": field}
        ) from None
    if not address.is_loopback and not allow_remote:
        raise ValidationFailed(
            f"{field}: {host} is not a loopback address; the exporter has no "
            "authentication, so anyone who can reach it reads every metric. Set "
            "metrics.allow_remote = true to listen there anyway",
            {"field": field},
        )
    return host, int(port_text)


class MetricsSettings(_Section, kw_only=True):
    enabled: bool = True
    """Count runs, tool, storage and RPC calls and task metrics; off, only the run
    counts ``daemon.status`` shows are kept (and no alerts can be watched)."""
    listen: str | None = None
    """``HOST:PORT`` of the Prometheus HTTP exporter; unset: no exporter."""
    allow_remote: bool = False
    """Let ``listen`` name an address that is not loopback."""
    max_series_per_metric: Annotated[int, Meta(ge=1, le=1_000_000)] = 1000
    """Label combinations one task metric may have; more are dropped and counted."""
    max_series: Annotated[int, Meta(ge=1, le=10_000_000)] = 10_000
    """Label combinations of all task metrics together."""

    def __post_init__(self) -> None:
        if self.listen is not None:
            _as_value_error(lambda: parse_listen(self.listen or "", self.allow_remote))


class AlertRule(_Section, kw_only=True):
    """One ``[[alerts.rules]]`` entry (docs/observability.md#alerts)."""

    name: Annotated[str, Meta(pattern=RULE_NAME_PATTERN)]
    kind: RuleKind
    metric: Annotated[str, Meta(pattern=METRIC_NAME_PATTERN)] | None = None
    """threshold: the metric (a counter or gauge; ``<histogram>_count``/``_sum``)."""
    labels: dict[Annotated[str, Meta(pattern=LABEL_NAME_PATTERN)], str] = {}
    """threshold: only series with these label values (summed)."""
    function: Function = "value"
    window: str = "5m"
    """threshold with ``rate``/``increase``: how far back to look."""
    op: Comparison = ">"
    threshold: float | None = None
    task: Annotated[str, Meta(pattern=TASK_NAME_PATTERN)] | None = None
    """consecutive_failures: the task (required); run_duration, queue_wait: only its
    runs (default any task)."""
    count: Annotated[int, Meta(ge=1, le=10_000)] | None = None
    """consecutive_failures: failures in a row that make the condition true."""
    above: str | int | None = None
    """run_duration, queue_wait: a duration (``"30m"``); rss: a size (``"512MiB"``, or
    a number of bytes)."""
    for_: str = msgspec.field(name="for", default="0s")
    """How long the condition must hold before the alert fires."""
    severity: Annotated[str, Meta(min_length=1, max_length=32)] = "warning"
    message: Annotated[str, Meta(max_length=1000)] | None = None
    log: bool = True
    """Write firing and resolved to the daemon log at WARNING."""
    notify_task: Annotated[str, Meta(pattern=TASK_NAME_PATTERN)] | None = None
    """Submit a run of this task on firing and resolved, input ``{"alert": {...}}``."""

    def __post_init__(self) -> None:
        _as_value_error(self._check)

    def _check(self) -> None:
        where = f"alerts.rules.{self.name}"
        for_s = parse_duration(self.for_, f"{where}.for")
        needs: dict[str, tuple[str, ...]] = {
            "threshold": ("metric", "threshold"),
            "consecutive_failures": ("task", "count"),
            "run_duration": ("above",),
            "queue_wait": ("above",),
            "rss": ("above",),
        }
        for field in needs[self.kind]:
            if getattr(self, field) is None:
                raise ValidationFailed(f"{where}.{field} is required for kind {self.kind!r}")
        if self.kind == "threshold":
            window = parse_duration(self.window, f"{where}.window")
            if self.function != "value" and window <= 0:
                raise ValidationFailed(f"{where}.window must be more than 0")
        elif self.kind in ("run_duration", "queue_wait"):
            parse_duration(self.above, f"{where}.above")
        elif self.kind == "rss":
            _size(self.above, f"{where}.above")
        if for_s > 86400 * 30:
            raise ValidationFailed(f"{where}.for is more than 30 days")

    @property
    def for_s(self) -> float:
        return parse_duration(self.for_, "for")

    @property
    def window_s(self) -> float:
        return parse_duration(self.window, "window")

    @property
    def above_s(self) -> float:
        return parse_duration(self.above, "above")

    @property
    def above_bytes(self) -> int:
        return _size(self.above, "above")


class AlertsSettings(_Section, kw_only=True):
    interval_s: Annotated[float, Meta(ge=0.05, le=3600)] = 5.0
    """How often every rule is evaluated."""
    rules: list[AlertRule] = []

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name in seen:
                raise ValueError(f"alerts.rules: two rules are named {rule.name!r}")
            seen.add(rule.name)


def _size(value: str | int | None, field: str) -> int:
    return parse_size(value if value is not None else 0, field)


def _as_value_error(check: Callable[[], object]) -> None:
    """Run ``check``; a ``ValidationFailed`` becomes the ``ValueError`` msgspec reports
    as a validation error of the section being decoded."""
    try:
        check()
    except ValidationFailed as exc:
        raise ValueError(exc.message) from None
