"""Task metrics: checked again in the daemon, bounded, and every drop counted."""

from __future__ import annotations

import pytest

from seqd.config.observe import MetricsSettings
from seqd.model.metrics import metric_problem
from seqd.observe.custom import CustomMetrics
from seqd.observe.registry import Registry


def make(per_metric: int = 3, total: int = 5) -> tuple[Registry, CustomMetrics]:
    reg = Registry()
    settings = MetricsSettings(max_series_per_metric=per_metric, max_series=total)
    return reg, CustomMetrics(reg, settings)


def drops(custom: CustomMetrics) -> dict[str, float]:
    return {key[0]: value for key, value in custom.drops.values.items()}


def test_samples_record_with_the_task_label() -> None:
    reg, custom = make()
    assert custom.record("etl", "rows", 10, "counter", {"table": "users"}) is None
    assert custom.record("etl", "rows", 5, "counter", {"table": "users"}) is None
    assert custom.record("load", "rows", 1, "counter", {"table": "users"}) is None
    assert custom.record("etl", "queue", 4, "gauge", {}) is None
    assert custom.record("etl", "batch_seconds", 0.3, "histogram", {}) is None
    by_name = {f.name: f for f in reg.families()}
    assert {tuple(sorted(s.labels.items())): s.value for s in by_name["rows"].series} == {
        (("table", "users"), ("task", "etl")): 15.0,
        (("table", "users"), ("task", "load")): 1.0,
    }
    assert by_name["queue"].series[0].value == 4.0
    assert by_name["batch_seconds"].series[0].count == 1


@pytest.mark.parametrize(
    ("name", "value", "kind", "labels"),
    [
        ("9lives", 1, "counter", {}),
        ("seqd_mine", 1, "counter", {}),
        ("ok", float("nan"), "gauge", {}),
        ("ok", -1, "counter", {}),
        ("ok", True, "counter", {}),
        ("ok", 1, "summary", {}),
        ("ok", 1, "counter", {"task": "x"}),
        ("ok", 1, "counter", {"__name": "x"}),
        ("ok", 1, "counter", {"bad-label": "x"}),
        ("ok", 1, "counter", {"l": "x" * 300}),
        ("ok", 1, "counter", {"l": 5}),
    ],
)
def test_bad_samples_are_refused_and_counted(
    name: str, value: object, kind: str, labels: dict
) -> None:
    reg, custom = make()
    why = custom.record("t", name, value, kind, labels)
    assert why is not None and why == metric_problem(name, value, kind, labels)
    assert drops(custom) == {"invalid": 1.0}
    assert "ok" not in reg.metrics


def test_limits_drop_new_series_and_count_them() -> None:
    reg, custom = make(per_metric=2, total=3)
    assert custom.record("t", "hits", 1, "counter", {"user": "a"}) is None
    assert custom.record("t", "hits", 1, "counter", {"user": "b"}) is None
    why = custom.record("t", "hits", 1, "counter", {"user": "c"})
    assert why is not None and "too many label combinations" in why
    assert custom.record("t", "hits", 1, "counter", {"user": "a"}) is None  # existing: fine
    assert custom.record("t", "other", 1, "gauge", {}) is None  # the 3rd and last series
    assert custom.record("t", "more", 1, "gauge", {}) is not None  # no series left at all
    assert "more" not in reg.metrics  # nor a metric without series
    assert drops(custom) == {"series_cap": 1.0, "total_series_cap": 1.0}
    hits = reg.metrics["hits"]
    assert len(hits.values) == 2  # type: ignore[attr-defined]


def test_conflicts_are_dropped() -> None:
    reg, custom = make()
    assert custom.record("t", "jobs", 1, "counter", {"a": "1"}) is None
    assert "is a counter" in (custom.record("t", "jobs", 1, "gauge", {"a": "1"}) or "")
    assert "labels" in (custom.record("t", "jobs", 1, "counter", {"b": "1"}) or "")
    # a gauge named like a histogram's _count series would be two series of one name
    assert custom.record("t", "x", 1, "histogram", {}) is None
    assert "clashes" in (custom.record("t", "x_count", 1, "gauge", {}) or "")
    assert drops(custom) == {"kind_conflict": 1.0, "label_conflict": 1.0, "name_conflict": 1.0}
