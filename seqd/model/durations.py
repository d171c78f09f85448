"""Durations as people type them: ``90s``, ``10m``, ``1h30m``, ``2d``, ``1.5h``, ``500ms``.

One parser for every place a duration is read (``seqctl ... --since 10m``), written
without ``re`` or ``typing`` so that seqctl's start-up path may import it.
"""

from __future__ import annotations

UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
"""Seconds per unit."""


def parse_duration(text: str) -> float:
    """Seconds in ``text``: numbers each followed by a unit (``ms``, ``s``, ``m``,
    ``h``, ``d``, ``w``), summed; a bare number is seconds. Raises ``ValueError``
    saying what is wrong."""
    spec = text.strip().lower()
    if not spec:
        raise ValueError("empty duration (say 90s, 10m, 1h30m, 2d)")
    try:
        return _positive(float(spec), text)
    except ValueError:
        pass
    total, at = 0.0, 0
    while at < len(spec):
        start = at
        while at < len(spec) and (spec[at].isdigit() or spec[at] == "."):
            at += 1
        number = spec[start:at]
        unit_start = at
        while at < len(spec) and spec[at].isalpha():
            at += 1
        unit = spec[unit_start:at]
        if not number or unit not in UNITS:
            raise ValueError(
                f"not a duration: {text!r} (say 90s, 10m, 1h30m, 2d; units: {', '.join(UNITS)})"
            )
        try:
            total += float(number) * UNITS[unit]
        except ValueError:
            raise ValueError(f"not a duration: {text!r} ({number!r} is not a number)") from None
    return _positive(total, text)


def _positive(seconds: float, text: str) -> float:
    if not seconds >= 0 or seconds == float("inf"):
        raise ValueError(f"not a duration: {text!r} (it must be a finite length of time)")
    return seconds
