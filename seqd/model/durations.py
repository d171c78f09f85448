"""Durations as people write them in configs and requests: ``"90s"``, ``"6h"``,
``"1h30m"``, ``"7d"``, ``"250ms"``.

One or more ``<number><unit>`` parts, largest unit first or not; the units are ``ms``,
``s``, ``m``, ``h``, ``d`` and ``w``. A bare number is refused: ``"90"`` could mean
seconds or minutes, and a wrong guess would be silent.
"""

from __future__ import annotations

import math
import re

from seqd.errors import ValidationFailed

UNITS: dict[str, float] = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 7 * 86400.0,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)", re.ASCII)
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+", re.ASCII)
MAX_TEXT = 64


def parse_duration(text: object, field: str) -> float:
    """Seconds in ``text``; ``ValidationFailed`` naming ``field`` when it is not a
    duration such as ``90s``, ``6h`` or ``1h30m``."""
    if not isinstance(text, str) or len(text) > MAX_TEXT or not _WHOLE.fullmatch(text):
        raise ValidationFailed(
            f"{field}: {text!r} is not a duration such as 90s, 15m, 6h, 1h30m or 7d "
            "(units: ms, s, m, h, d, w)",
            {"field": field},
        )
    seconds = sum(float(n) * UNITS[unit] for n, unit in _PART.findall(text))
    if not math.isfinite(seconds):
        raise ValidationFailed(f"{field}: {text!r} is too long a duration", {"field": field})
    return seconds
