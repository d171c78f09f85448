"""Fire times: intervals, ``at``, cron in zones across DST changes, bounds, jitter."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from seqd.scheduler.times import Bounded, Cron, Interval, Once, jitter, upcoming

NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())


def local(zone: ZoneInfo, *args: int, fold: int = 0) -> int:
    return int(datetime(*args, tzinfo=zone, fold=fold).timestamp())


def test_interval_lines_up_with_its_anchor() -> None:
    every = Interval(anchor=1000, seconds=90)
    assert every.after(999) == 1000
    assert every.after(1000) == 1090
    assert every.after(1089) == 1090
    assert every.after(500) == 1000 - 90 * 5  # fires before the anchor line up too
    assert upcoming(every, 1000, 3) == [1090, 1180, 1270]
    assert every.latest(upto=1270, after=1000, n=10) == [1090, 1180, 1270]
    assert every.latest(upto=1269, after=1000, n=1) == [1180]
    assert every.latest(upto=1000, after=1000, n=5) == []
    assert every.latest(upto=10**6, after=1000, n=2) == [
        1000 + 90 * ((10**6 - 1000) // 90 - 1),
        1000 + 90 * ((10**6 - 1000) // 90),
    ]


def test_once_fires_once() -> None:
    once = Once(5000)
    assert once.after(4999) == 5000
    assert once.after(5000) is None
    assert once.latest(upto=6000, after=4000, n=3) == [5000]
    assert once.latest(upto=6000, after=5000, n=3) == []
    assert once.latest(upto=4999, after=0, n=3) == []


def test_cron_in_a_zone() -> None:
    daily = Cron("0 9 * * 1-5", NEW_YORK)  # 09:00 New York time, weekdays
    friday = local(NEW_YORK, 2026, 1, 9, 9, 0)
    monday = local(NEW_YORK, 2026, 1, 12, 9, 0)
    assert daily.after(friday - 1) == friday
    assert daily.after(friday) == monday  # not on the weekend
    assert friday - utc(2026, 1, 9, 14, 0) == 0  # EST is UTC-5
    assert daily.latest(upto=monday, after=friday - 1, n=5) == [friday, monday]
    assert daily.latest(upto=monday - 1, after=0, n=1) == [friday]


def test_spring_forward_a_0230_job_runs_at_0300() -> None:
    """2026-03-08 in New York: 02:00 EST becomes 03:00 EDT; 02:30 does not exist that
    day, so the 02:30 job runs at 03:00 EDT, once, and the next day at 02:30 again."""
    job = Cron("30 2 * * *", NEW_YORK)
    day_before = local(NEW_YORK, 2026, 3, 7, 2, 30)
    on_the_day = job.after(day_before)
    assert on_the_day == local(NEW_YORK, 2026, 3, 8, 3, 0) == utc(2026, 3, 8, 7, 0)
    assert job.after(on_the_day) == local(NEW_YORK, 2026, 3, 9, 2, 30) == utc(2026, 3, 9, 6, 30)
    # Looking back over the change finds the same three fires.
    assert job.latest(upto=utc(2026, 3, 9, 12, 0), after=day_before - 1, n=10) == [
        day_before,
        on_the_day,
        utc(2026, 3, 9, 6, 30),
    ]


def test_fall_back_a_0130_job_runs_once() -> None:
    """2026-11-01 in New York: 02:00 EDT becomes 01:00 EST, so 01:30 happens twice; the
    01:30 job runs at the first (EDT) only. A job on every half hour runs in both."""
    job = Cron("30 1 * * *", NEW_YORK)
    first = local(NEW_YORK, 2026, 11, 1, 1, 30, fold=0)
    second = local(NEW_YORK, 2026, 11, 1, 1, 30, fold=1)
    assert second - first == 3600
    assert first == utc(2026, 11, 1, 5, 30)
    assert job.after(first - 1) == first
    assert job.after(first) == local(NEW_YORK, 2026, 11, 2, 1, 30) == utc(2026, 11, 2, 6, 30)
    assert job.latest(upto=utc(2026, 11, 2, 12, 0), after=first - 1, n=10) == [
        first,
        utc(2026, 11, 2, 6, 30),
    ]
    half_hourly = Cron("*/30 * * * *", NEW_YORK)
    fires = upcoming(half_hourly, local(NEW_YORK, 2026, 11, 1, 0, 59), 6)
    assert fires == [
        utc(2026, 11, 1, 5, 0),  # 01:00 EDT
        utc(2026, 11, 1, 5, 30),  # 01:30 EDT
        utc(2026, 11, 1, 6, 0),  # 01:00 EST
        utc(2026, 11, 1, 6, 30),  # 01:30 EST
        utc(2026, 11, 1, 7, 0),  # 02:00 EST
        utc(2026, 11, 1, 7, 30),
    ]
    assert half_hourly.latest(upto=fires[-1], after=fires[0] - 1, n=100) == fires


@pytest.mark.parametrize("expression", ["*/7 * * * *", "15 2 * * *", "0 0 1 * *", "5 */3 * * 0"])
def test_cron_latest_agrees_with_after_across_a_year(expression: str) -> None:
    job = Cron(expression, ZoneInfo("Europe/Berlin"))
    start = utc(2026, 1, 1, 0, 0)
    forward = upcoming(job, start, 200)
    assert forward == sorted(set(forward))
    assert job.latest(upto=forward[-1], after=start, n=500) == forward
    assert job.latest(upto=forward[-1], after=start, n=3) == forward[-3:]


def test_bounds() -> None:
    every = Bounded(Interval(anchor=0, seconds=10), start=25, end=60)
    assert every.after(0) == 30
    assert every.after(30) == 40
    assert every.after(60) is None
    assert upcoming(every, 0, 10) == [30, 40, 50, 60]
    assert every.latest(upto=1000, after=0, n=10) == [30, 40, 50, 60]
    starts_on_a_fire = Bounded(Interval(anchor=0, seconds=10), start=30, end=None)
    assert starts_on_a_fire.after(0) == 30


def test_jitter_is_stable_and_within_bounds() -> None:
    delays = [jitter("nightly", t, 30.0) for t in range(0, 86_400 * 100, 86_400)]
    assert all(0 <= d < 30.0 for d in delays)
    assert len(set(delays)) > 90  # spread, not one value
    assert delays == [jitter("nightly", t, 30.0) for t in range(0, 86_400 * 100, 86_400)]
    assert jitter("other", 0, 30.0) != jitter("nightly", 0, 30.0)
    assert jitter("nightly", 0, 0.0) == 0.0
