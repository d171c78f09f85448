"""Metrics as data: what a metric name, a label and a value may be, and the shape of a
metric family when it is read (``metrics.get``, exporter plugins).

Its own module because the same rules are checked in two processes — by a python
worker when task code calls ``ctx.metric`` (so a mistake raises in the task at once)
and by the daemon, which trusts no worker — and the read shape is shared by the wire,
the Prometheus exposition and exporter plugins. msgspec and the standard library
only: the worker imports it.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

import msgspec

MetricKind = Literal["counter", "gauge", "histogram"]
KINDS: tuple[str, ...] = ("counter", "gauge", "histogram")

METRIC_NAME_PATTERN = r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"
LABEL_NAME_PATTERN = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
MAX_NAME = 200
MAX_LABELS = 16
MAX_LABEL_VALUE = 256
RESERVED_PREFIX = "seqd_"
"""Built-in metrics' prefix: task code may not use it."""
RESERVED_LABELS = frozenset({"task", "le", "quantile"})
"""``task`` is added by the daemon to every custom metric; ``le`` and ``quantile``
belong to histograms and summaries in the exposition format."""

_NAME = re.compile(METRIC_NAME_PATTERN.removeprefix("^").removesuffix("$"))
_LABEL = re.compile(LABEL_NAME_PATTERN.removeprefix("^").removesuffix("$"))

DEFAULT_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
)  # fmt: skip
"""Upper bounds of every histogram's buckets, in seconds for durations (``+Inf`` is
implied): fixed, so an observation is one bisect and one increment."""


def metric_problem(name: Any, value: Any, kind: Any, labels: Any) -> str | None:
    """Why a custom metric sample is refused, or None if it is fine."""
    if kind not in KINDS:
        return f"kind must be one of {', '.join(KINDS)}, not {kind!r}"
    if not isinstance(name, str) or not name or len(name) > MAX_NAME:
        return f"the metric name must be a string of 1 to {MAX_NAME} characters"
    if _NAME.fullmatch(name) is None:
        return f"metric name {name!r} must match {METRIC_NAME_PATTERN}"
    if name.startswith(RESERVED_PREFIX):
        return f"metric name {name!r}: the prefix {RESERVED_PREFIX!r} is the daemon's own"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"the value of {name!r} must be a number, not {type(value).__name__}"
    if not math.isfinite(value):
        return f"the value of {name!r} must be finite, not {value!r}"
    if kind == "counter" and value < 0:
        return f"counter {name!r} can only go up: {value!r} is negative"
    if not isinstance(labels, dict):
        return "labels must be a dict of names to strings"
    if len(labels) > MAX_LABELS:
        return f"metric {name!r} has {len(labels)} labels; at most {MAX_LABELS}"
    for label, text in labels.items():
        if not isinstance(label, str) or _LABEL.fullmatch(label) is None:
            return f"label name {label!r} must match {LABEL_NAME_PATTERN}"
        if label.startswith("__") or label in RESERVED_LABELS:
            return f"label name {label!r} is reserved"
        if not isinstance(text, str) or len(text) > MAX_LABEL_VALUE:
            return f"label {label!r} must be a string of at most {MAX_LABEL_VALUE} characters"
    return None


class Series(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One labelled series of a family. Counters and gauges have ``value``;
    histograms have ``count``, ``sum`` and ``buckets``: the cumulative count of
    observations at or below each of the family's ``bounds``."""

    labels: dict[str, str] = {}
    value: float | None = None
    count: int | None = None
    sum: float | None = None
    buckets: list[int] | None = None


class Family(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A metric and all its series, as read at one moment."""

    name: str
    kind: MetricKind
    help: str = ""
    bounds: list[float] | None = None
    """Histograms: the upper bounds of the buckets (``+Inf`` implied)."""
    series: list[Series] = []
