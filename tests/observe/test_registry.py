"""The registry: recording, limits, reading, and the Prometheus text format as
prometheus_client's own parser reads it."""

from __future__ import annotations

import asyncio
import math
import threading

import pytest
from prometheus_client.parser import text_string_to_metric_families

from seqd.observe.exposition import render
from seqd.observe.registry import Counter, Histogram, Registry, SeriesBudget


def test_counter_gauge_histogram_read_back() -> None:
    reg = Registry()
    runs = reg.counter("runs_total", "runs", ("task",))
    runs.inc(("a",))
    runs.inc(("a",), 2)
    runs.inc(("b",))
    depth = reg.gauge("depth", "queue depth")
    depth.set((), 5)
    depth.inc((), -2)
    wait = reg.histogram("wait_seconds", "waits", ("task",), bounds=(0.1, 1.0))
    for value in (0.05, 0.1, 0.5, 3.0):
        wait.observe(("a",), value)
    families = {f.name: f for f in reg.families()}
    assert {tuple(s.labels.items()): s.value for s in families["runs_total"].series} == {
        (("task", "a"),): 3.0,
        (("task", "b"),): 1.0,
    }
    assert families["depth"].series[0].value == 3.0
    hist = families["wait_seconds"]
    assert hist.bounds == [0.1, 1.0]
    (series,) = hist.series
    # 0.1 is "le 0.1" (buckets are upper-inclusive); 3.0 only in +Inf
    assert (series.buckets, series.count, series.sum) == ([2, 3], 4, pytest.approx(3.65))
    assert reg.value("runs_total") == 4.0
    assert reg.value("runs", {"task": "a"}) == 3.0  # a counter with or without _total
    assert reg.value("wait_seconds_count", {"task": "a"}) == 4
    assert reg.value("wait_seconds_sum") == pytest.approx(3.65)
    assert reg.value("nothing") is None


def test_a_capped_metric_drops_new_series_and_says_so() -> None:
    drops: list[tuple[str, str]] = []
    budget = SeriesBudget(3)
    a = Counter("a", "", ("k",), cap=2, budget=budget, on_drop=lambda n, r: drops.append((n, r)))
    b = Histogram("b", "", ("k",), cap=10, budget=budget, on_drop=lambda n, r: drops.append((n, r)))
    for key in ("x", "y", "z"):
        a.inc((key,))
    a.inc(("x",), 5)  # an existing series always records
    assert a.values == {("x",): 6.0, ("y",): 1.0}
    b.observe(("p",), 1.0)
    b.observe(("q",), 1.0)  # the shared budget (3) is spent
    assert list(b.cells) == [("p",)]
    assert drops == [("a", "series_cap"), ("b", "total_series_cap")]


def test_exposition_is_what_prometheus_parses() -> None:
    reg = Registry()
    c = reg.counter("seqd_runs_finished_total", "Runs that ended.", ("task", "status"))
    c.inc(("etl", "failed"), 3)
    c.inc(('we"ird\\task\n', "succeeded"))
    h = reg.histogram("seqd_run_duration_seconds", "Durations.", ("task",), bounds=(0.5, 2.0))
    h.observe(("etl",), 1.0)
    h.observe(("etl",), 10.0)
    text = render(reg.families()).decode()
    parsed = {f.name: f for f in text_string_to_metric_families(text)}
    runs = parsed["seqd_runs_finished"]
    assert runs.type == "counter"
    values = {
        tuple(sorted(s.labels.items())): s.value for s in runs.samples if s.name.endswith("_total")
    }
    assert values[(("status", "failed"), ("task", "etl"))] == 3.0
    assert values[(("status", "succeeded"), ("task", 'we"ird\\task\n'))] == 1.0
    duration = parsed["seqd_run_duration_seconds"]
    assert duration.type == "histogram"
    buckets = {s.labels["le"]: s.value for s in duration.samples if s.name.endswith("_bucket")}
    assert buckets == {"0.5": 0.0, "2.0": 1.0, "+Inf": 2.0}
    count = [s.value for s in duration.samples if s.name.endswith("_count")]
    assert count == [2.0]


def test_families_threadsafe_reads_on_the_loop() -> None:
    reg = Registry()
    counter = reg.counter("c_total", "")
    got: list[float] = []
    errors: list[BaseException] = []

    async def main() -> None:
        reg.bind(asyncio.get_running_loop())
        counter.inc((), 7)

        def reader() -> None:
            try:
                (family,) = reg.families_threadsafe(5)
                got.append(family.series[0].value or math.nan)
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=reader)
        thread.start()
        await asyncio.to_thread(thread.join, 10)

    asyncio.run(main())
    assert errors == [] and got == [7.0]
    with pytest.raises(RuntimeError):
        Registry().families_threadsafe(0.1)  # never bound to a loop
