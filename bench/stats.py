"""Small statistics and formatting helpers shared by the benchmarks."""

from __future__ import annotations

import logging
import math
import statistics
from collections.abc import Callable, Sequence

logger = logging.getLogger(__name__)


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0..100) by linear interpolation between ranks."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.0f} µs"


def ms(seconds: float) -> str:
    if seconds < 0.01:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e3:.1f} ms"


def duration(seconds: float) -> str:
    """Microseconds, milliseconds or seconds, whichever reads best."""
    if abs(seconds) < 1e-3:
        return us(seconds)
    if abs(seconds) < 1.0:
        return ms(seconds)
    return f"{seconds:.2f} s"


def rate(per_second: float) -> str:
    return f"{per_second:,.0f}/s"


def mib(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:,.1f} MiB"


def ratio(value: float, base: float) -> str:
    if base == 0:
        return "—"
    return f"{value / base:.2f}x"


def spread(values: Sequence[float], fmt: Callable[[float], str]) -> str:
    """``min..max`` of the repetitions, so a reader can judge the noise."""
    return f"{fmt(min(values))} to {fmt(max(values))}"
