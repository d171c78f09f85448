"""Shell tasks' ``::metric`` lines."""

from __future__ import annotations

import pytest

from seqd.builtin.tasks.metric_lines import parse_metric_line


@pytest.mark.parametrize(
    ("line", "sample"),
    [
        ("::metric rows=5", ("rows", 5.0, "counter", {})),
        ("::metric rows=1.5e3 table=users db=main", ("rows", 1500.0, "counter",
                                                     {"table": "users", "db": "main"})),
        ("::metric gauge temp=-3.5", ("temp", -3.5, "gauge", {})),
        ("::metric   histogram   t_seconds=0.25   stage=load ", ("t_seconds", 0.25, "histogram",
                                                               {"stage": "load"})),
        ("::metric counter=1", ("counter", 1.0, "counter", {})),
    ],
)  # fmt: skip
def test_good_lines(line: str, sample: tuple[object, ...]) -> None:
    assert parse_metric_line(line) == sample


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("::metric", "expected NAME=VALUE"),
        ("::metric gauge", "expected NAME=VALUE"),
        ("::metric rows", "expected NAME=VALUE"),
        ("::metric rows=many", "is not a number"),
        ("::metric rows=nan", "finite"),
        ("::metric rows=-1", "only go up"),
        ("::metric rows=1 table", "labels are LABEL=VALUE"),
        ("::metric rows=1 task=x", "reserved"),
        ("::metric 1rows=1", "must match"),
        ("::metricrows=1", "starts with"),
    ],
)
def test_bad_lines_say_why(line: str, why: str) -> None:
    result = parse_metric_line(line)
    assert isinstance(result, str) and why in result
