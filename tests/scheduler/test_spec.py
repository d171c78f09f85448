"""A schedule's definition: every broken rule is refused naming its field; durations;
the overlap and misfire policies."""

from __future__ import annotations

from typing import Any

import pytest

from seqd.errors import ValidationFailed
from seqd.model.durations import parse_duration
from seqd.model.runs import Run
from seqd.model.schedules import ScheduleSpec
from seqd.scheduler.policies import on_overlap, to_run_after_misfire
from seqd.scheduler.spec import check_name, compile_plan, cron_expression
from seqd.scheduler.times import Bounded, Cron, Interval, Once


def plan(**fields: Any):  # type: ignore[no-untyped-def]
    spec = ScheduleSpec(**{"task": "hello", **fields})
    return compile_plan(spec, created=1000, default_zone="UTC", where="schedules[0].")


def refused(field: str, **fields: Any) -> str:
    with pytest.raises(ValidationFailed) as caught:
        plan(**fields)
    assert caught.value.details["field"] == f"schedules[0].{field}", caught.value.message
    assert caught.value.message.startswith(f"schedules[0].{field}: ")
    return caught.value.message


def test_each_kind_compiles() -> None:
    assert isinstance(plan(at="2030-01-01T09:00:00+01:00").timing, Once)
    every = plan(every="1h30m").timing
    assert isinstance(every, Interval) and every.seconds == 5400 and every.anchor == 1000
    anchored = plan(every="6h", anchor="2030-01-01T00:00:00Z").timing
    assert isinstance(anchored, Interval) and anchored.anchor == 1893456000
    cron = plan(cron="@daily", tz="Europe/Berlin")
    assert isinstance(cron.timing, Cron) and cron.timing.expression == "0 0 * * *"
    assert cron.zone == "Europe/Berlin"
    assert plan(cron="*/5 * * * *").zone == "UTC"  # the default zone
    bounded = plan(every="1m", start="2030-01-01T00:00:00Z", end="2030-01-02T00:00:00Z")
    assert isinstance(bounded.timing, Bounded)
    assert plan(every="90s", jitter_s=12.5).jitter_s == 12.5


def test_one_kind_exactly() -> None:
    assert "exactly one of at, every and cron" in refused("at")
    assert "(got at, cron)" in refused("at", at="2030-01-01T00:00:00Z", cron="@daily")
    refused("anchor", cron="@daily", anchor="2030-01-01T00:00:00Z")


@pytest.mark.parametrize(
    ("field", "fields", "says"),
    [
        ("cron", {"cron": "0 3 * *"}, "five fields"),
        ("cron", {"cron": "0 0 3 * * *"}, "five fields"),
        ("cron", {"cron": "61 * * * *"}, "Bad minute"),
        ("cron", {"cron": "0 0 31 2 *"}, "not a valid cron"),
        ("cron", {"cron": "@reboot"}, "not one of the aliases"),
        ("cron", {"cron": "x" * 300}, "at most 200"),
        ("tz", {"cron": "@daily", "tz": "Mars/Olympus"}, "not an IANA time zone"),
        ("tz", {"cron": "@daily", "tz": "../../etc/passwd"}, "not an IANA time zone"),
        ("every", {"every": "90"}, "not a duration"),
        ("every", {"every": "1.5s"}, "whole number of seconds"),
        ("every", {"every": "500ms"}, "whole number of seconds"),
        ("every", {"every": "600w"}, "10 years"),
        ("every", {"every": "99999w"}, "at most"),
        ("at", {"at": "2030-01-01 09:00"}, "RFC 3339"),
        ("at", {"at": "2030-02-30T09:00:00Z"}, "not a valid time"),
        ("start", {"every": "1m", "start": "tomorrow"}, "RFC 3339"),
        ("end", {"every": "1m", "start": "2030-01-02T00:00:00Z", "end": "2030-01-01T00:00:00Z"},
         "before start"),
        ("jitter_s", {"every": "1m", "jitter_s": -1}, "between 0"),
        ("jitter_s", {"every": "1m", "jitter_s": float("nan")}, "between 0"),
        ("catch_up", {"every": "1m", "catch_up": 0}, "between 1 and 1000"),
        ("task", {"every": "1m", "task": "Bad Name"}, "not a task name"),
    ],
)  # fmt: skip
def test_broken_rules_name_their_field(field: str, fields: dict[str, Any], says: str) -> None:
    assert says in refused(field, **fields)


def test_cron_aliases_and_names() -> None:
    assert cron_expression("@hourly") == "0 * * * *"
    assert cron_expression(" @Weekly ") == "0 0 * * 0"
    assert cron_expression("0 9 * * MON-FRI") == "0 9 * * MON-FRI"
    assert check_name("nightly-backup.v2") == "nightly-backup.v2"
    for bad in ("", "Nightly", "a/b", "-x", "x" * 129, "a\nb"):
        with pytest.raises(ValidationFailed):
            check_name(bad)


def test_durations() -> None:
    assert parse_duration("90s", "f") == 90
    assert parse_duration("6h", "f") == 21600
    assert parse_duration("1h30m", "f") == 5400
    assert parse_duration("7d", "f") == 604800
    assert parse_duration("2w", "f") == 1209600
    assert parse_duration("250ms", "f") == 0.25
    assert parse_duration("1.5h", "f") == 5400
    for bad in ("90", "", "h", "1 h", "-5s", "1y", "1h 30m", 90, None, "9" * 100 + "s"):
        with pytest.raises(ValidationFailed) as caught:
            parse_duration(bad, "retention.keep")
        assert caught.value.details["field"] == "retention.keep"


def test_misfire_policies() -> None:
    missed = [10, 20, 30, 40]
    assert to_run_after_misfire("skip", missed, 10) == []
    assert to_run_after_misfire("run_once", missed, 10) == [40]
    assert to_run_after_misfire("catch_up", missed, 2) == [30, 40]
    assert to_run_after_misfire("catch_up", missed, 10) == missed
    assert to_run_after_misfire("run_once", [], 10) == []


def run(status: str, scheduled_for: str = "earlier") -> Run:
    return Run(id="1", task="t", status=status, created_at="x", scheduled_for=scheduled_for)  # type: ignore[arg-type]


def test_overlap_policies() -> None:
    now = "2030-01-01T00:00:00.000000Z"
    for policy in ("skip", "queue", "allow"):
        assert on_overlap(policy, None, now, False) == "fire"  # type: ignore[arg-type]
        assert on_overlap(policy, run("succeeded"), now, False) == "fire"  # type: ignore[arg-type]
        # Its own run, made before a restart: nothing more to do, whatever the policy.
        assert on_overlap(policy, run("running", now), now, False) == "done"  # type: ignore[arg-type]
    assert on_overlap("skip", run("running"), now, False) == "skip"
    assert on_overlap("skip", run("suspended"), now, False) == "skip"
    assert on_overlap("queue", run("queued"), now, False) == "queue"
    assert on_overlap("queue", run("failed"), now, True) == "queue"  # behind the queue
    assert on_overlap("allow", run("running"), now, True) == "fire"
