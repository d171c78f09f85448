"""When a schedule fires: its nominal fire times, as whole epoch seconds.

A ``Timing`` answers two questions, both pure arithmetic once built: the first fire
strictly after a time (``after``, what the timer arms for), and the latest fires up to
a time (``latest``, what a misfire policy chooses among after downtime). ``Once`` is
``at``; ``Interval`` is ``every`` (anchor + k * interval, real elapsed seconds, so a
zone's clock changes do not move it); ``Cron`` is a cron expression read in a zone by
``cronsim``, whose DST rules are those of Debian's cron: a time that falls in a
spring-forward gap fires at the first minute after it (a 02:30 job runs at 03:00 that
day), and a time repeated by a fall-back fires once, the first time, unless the
expression names every hour (``*/30 * * * *`` fires in both). ``Bounded`` applies a
schedule's ``start`` and ``end``.

Nominal times are whole seconds: they name fires (in idempotency keys), so they must
come out the same whenever they are computed. ``jitter`` is the delay added to one
fire, derived from the schedule's name and the nominal time, so a restart keeps it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime, tzinfo
from typing import Protocol

from cronsim import CronSim

MAX_LATEST = 100_000
"""Fires ``latest`` looks back over at most (a catch-up or a count of missed fires)."""


class Timing(Protocol):
    def after(self, t: int) -> int | None:
        """The first nominal fire time strictly after ``t``; None if there is none."""
        ...

    def latest(self, upto: int, after: int, n: int) -> list[int]:
        """The last ``n`` (at most) fire times in ``(after, upto]``, oldest first."""
        ...


class Once:
    def __init__(self, at: int) -> None:
        self.at = at

    def after(self, t: int) -> int | None:
        return self.at if self.at > t else None

    def latest(self, upto: int, after: int, n: int) -> list[int]:
        return [self.at] if n > 0 and after < self.at <= upto else []


class Interval:
    def __init__(self, anchor: int, seconds: int) -> None:
        self.anchor = anchor
        self.seconds = seconds

    def after(self, t: int) -> int:
        k = (t - self.anchor) // self.seconds + 1
        return self.anchor + k * self.seconds

    def latest(self, upto: int, after: int, n: int) -> list[int]:
        if upto <= after or n <= 0:
            return []
        last = self.anchor + (upto - self.anchor) // self.seconds * self.seconds
        first = max(self.after(after), last - (n - 1) * self.seconds)
        return list(range(first, last + 1, self.seconds))


class Cron:
    def __init__(self, expression: str, zone: tzinfo) -> None:
        self.expression = expression
        self.zone = zone

    def _times(self, start: int, reverse: bool) -> Iterator[datetime]:
        return CronSim(self.expression, datetime.fromtimestamp(start, self.zone), reverse)

    def after(self, t: int) -> int | None:
        for when in self._times(t, False):
            return int(when.timestamp())
        return None

    def latest(self, upto: int, after: int, n: int) -> list[int]:
        found: list[int] = []
        if n <= 0:
            return found
        # Going back from just past ``upto``: cronsim's reverse walk excludes its start.
        for when in self._times(upto + 1, True):
            t = int(when.timestamp())
            if t <= after:
                break
            found.append(t)
            if len(found) >= n:
                break
        found.reverse()
        return found


class Bounded:
    """``inner`` with no fire before ``start`` nor after ``end`` (either may be None)."""

    def __init__(self, inner: Timing, start: int | None, end: int | None) -> None:
        self.inner = inner
        self.start = start
        self.end = end

    def after(self, t: int) -> int | None:
        if self.start is not None:
            t = max(t, self.start - 1)
        found = self.inner.after(t)
        if found is None or (self.end is not None and found > self.end):
            return None
        return found

    def latest(self, upto: int, after: int, n: int) -> list[int]:
        if self.end is not None:
            upto = min(upto, self.end)
        if self.start is not None:
            after = max(after, self.start - 1)
        return self.inner.latest(upto, after, n)


def upcoming(timing: Timing, after: int, n: int) -> list[int]:
    """The next ``n`` fire times after ``after`` (fewer if the schedule ends)."""
    found: list[int] = []
    t: int | None = after
    while len(found) < n and t is not None:
        t = timing.after(t)
        if t is not None:
            found.append(t)
    return found


def jitter(name: str, nominal: int, jitter_s: float) -> float:
    """The delay of the fire of ``name`` at ``nominal``: in ``[0, jitter_s)``, spread
    evenly, and the same every time it is asked (a hash, not a random draw)."""
    if jitter_s <= 0:
        return 0.0
    digest = hashlib.blake2b(f"{name}@{nominal}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 * jitter_s
