"""RFC 3339 times as people write them: a flow's wait state (``"until":
"2030-01-01T09:00:00Z"``), a schedule's ``at``, ``start``, ``end`` and ``anchor``.

``datetime.fromisoformat`` alone accepts far more than RFC 3339 (dates without a time,
times without an offset, which would silently mean the daemon's local zone), so the
shape is checked first and only then handed to it for the calendar checks.
"""

from __future__ import annotations

import re
from datetime import datetime

_SHAPE = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})",
    re.ASCII,
)


def parse_rfc3339(text: str) -> float:
    """Seconds since the epoch of an RFC 3339 time; ``ValueError`` saying why if not one."""
    if not isinstance(text, str) or not _SHAPE.fullmatch(text):
        raise ValueError(
            "not an RFC 3339 time with an offset, such as 2030-01-01T09:00:00Z "
            "or 2030-01-01T10:00:00+01:00"
        )
    head, _, tail = text.partition(".")
    if tail:
        # Python takes at most 6 fractional digits; RFC 3339 allows more.
        digits = re.match(r"\d+", tail)
        assert digits is not None
        text = f"{head}.{digits.group()[:6].ljust(6, '0')}{tail[digits.end() :]}"
    text = text[:-1] + "+00:00" if text[-1] in "Zz" else text
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError as exc:
        raise ValueError(f"not a valid time: {exc}") from None
