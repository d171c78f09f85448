"""RFC 3339 UTC timestamps as fixed-width text (so they sort as strings).

Formatting runs several times per run on the hot path, so the date-and-seconds
prefix is cached per second instead of going through ``datetime`` each time.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

_cache: list[object] = [-1, ""]


def now() -> str:
    return format_ts(time.time())


def format_ts(epoch: float) -> str:
    seconds = int(epoch)
    micros = int((epoch - seconds) * 1_000_000)
    if _cache[0] != seconds:
        _cache[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _cache[0] = seconds
    return f"{_cache[1]}.{micros:06d}Z"


def parse_ts(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()
