"""Durations and sizes as people write them in config files: ``"90s"``, ``"5m"``,
``"1h30m"``, ``"7d"``; ``"512MiB"``, ``"2GB"``. A bare number is seconds (or bytes).

Its own module because several parts of the config (alert rules today, schedules and
retention elsewhere) take durations, and each must refuse a bad one the same way: a
``ValidationFailed`` naming the field.
"""

from __future__ import annotations

import math
import re

from seqd.errors import ValidationFailed

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?")
_SIZE_UNITS = {
    None: 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
    "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40,
}  # fmt: skip


def parse_duration(text: str | float, field: str) -> float:
    """Seconds in ``text`` (``"90s"``, ``"1h30m"``, ``"250ms"``, or a number of
    seconds); raises ``ValidationFailed`` naming ``field``."""
    if isinstance(text, bool):
        raise _bad_duration(text, field)
    if isinstance(text, int | float):
        seconds = float(text)
    elif isinstance(text, str):
        spec = text.strip()
        seconds = 0.0
        pos = 0
        for match in _PART.finditer(spec):
            if match.start() != pos:
                raise _bad_duration(text, field)
            seconds += float(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
        if pos != len(spec) or not spec:
            raise _bad_duration(text, field)
    else:
        raise _bad_duration(text, field)
    if not math.isfinite(seconds) or seconds < 0:
        raise _bad_duration(text, field)
    return seconds


def parse_size(text: str | int, field: str) -> int:
    """Bytes in ``text`` (``"512MiB"``, ``"2GB"``, or a number of bytes); raises
    ``ValidationFailed`` naming ``field``."""
    if isinstance(text, bool):
        raise _bad_size(text, field)
    if isinstance(text, int):
        if text < 0:
            raise _bad_size(text, field)
        return text
    match = _SIZE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise _bad_size(text, field)
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])


def _bad_duration(text: object, field: str) -> ValidationFailed:
    return ValidationFailed(
        f"{field}: {text!r} is not a duration (write e.g. 90s, 5m, 1h30m, 7d, 250ms)",
        {"field": field},
    )


def _bad_size(text: object, field: str) -> ValidationFailed:
    return ValidationFailed(
        f"{field}: {text!r} is not a size (write e.g. 512MiB, 2GB or a number of bytes)",
        {"field": field},
    )
