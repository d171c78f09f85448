"""Durations and sizes as people write them: ``"90s"``, ``"6h"``, ``"7d"``,
``"1h30m"``; ``"512MiB"``, ``"2GB"``.

One syntax for every duration in config files, RPC fields meant for people and seqctl
options (retention ages, schedule intervals, ``--since``), so that ``7d`` means the same
everywhere. A duration is one or more ``<number><unit>`` parts, largest unit first,
each unit at most once, no spaces: units ``ms``, ``s``, ``m``, ``h``, ``d`` (24 h) and
``w`` (7 d); the number may have a fraction (``1.5h``). A bare number is refused, since
nobody can tell whether it means seconds or days.

Stands alone (the standard library and ``seqd.errors``): seqctl imports it too.
"""

from __future__ import annotations

import math
import re

from seqd.errors import ValidationFailed

UNITS: dict[str, float] = {
    "w": 7 * 86400.0,
    "d": 86400.0,
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 0.001,
}
"""Seconds per unit, largest first (the order parts must come in)."""
MAX_SECONDS = 100 * 365 * 86400.0
"""Longest duration accepted (about a century): past it a value is a typo."""

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|[wdhms])")
_ORDER = list(UNITS)
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?")
_SIZE_UNITS = {
    None: 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
    "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40,
}  # fmt: skip


def parse_duration(text: object, field: str) -> float:
    """Seconds in ``text`` (``"7d"`` → 604800.0); ``ValidationFailed`` naming ``field``
    (``details.field``) when it is not a duration."""
    if not isinstance(text, str) or not text:
        raise _invalid(text, field, "expected a duration such as 90s, 6h or 7d")
    total = 0.0
    last = -1
    pos = 0
    while pos < len(text):
        part = _PART.match(text, pos)
        if part is None:
            hint = "add a unit: s, m, h, d or w" if _is_number(text) else "e.g. 90s, 6h, 7d, 1h30m"
            raise _invalid(text, field, hint)
        rank = _ORDER.index(part.group(2))
        if rank <= last:
            raise _invalid(text, field, "each unit once, largest first (e.g. 1h30m)")
        last = rank
        total += float(part.group(1)) * UNITS[part.group(2)]
        pos = part.end()
    if not math.isfinite(total) or total > MAX_SECONDS:
        raise _invalid(text, field, f"at most {format_duration(MAX_SECONDS)}")
    return total


def format_duration(seconds: float) -> str:
    """``seconds`` in the same syntax, whole units only (``604800`` → ``"7d"``,
    ``5400`` → ``"1h30m"``); under a second, in ``ms``."""
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    rest = round(seconds)
    parts: list[str] = []
    for unit in ("d", "h", "m", "s"):
        size = int(UNITS[unit])
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _invalid(text: object, field: str, hint: str) -> ValidationFailed:
    return ValidationFailed(
        f"{field}: {text!r} is not a duration ({hint})", {"field": field, "value": str(text)}
    )


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


def _bad_size(text: object, field: str) -> ValidationFailed:
    return ValidationFailed(
        f"{field}: {text!r} is not a size (write e.g. 512MiB, 2GB or a number of bytes)",
        {"field": field},
    )
