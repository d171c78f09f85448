"""RFC 3339 UTC timestamps as fixed-width text (so they sort as strings)."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> str:
    return format_ts(time.time())


def format_ts(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()
