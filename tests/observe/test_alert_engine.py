"""The alert engine on a real SQLite store: states, ``for``, history, notifications,
restoring after a restart, and a store that refuses a write."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest

from seqd.builtin.storage.sqlite.backend import SQLiteStorageFactory
from seqd.config.observe import AlertsSettings
from seqd.model.alerts import AlertEvent
from seqd.model.ids import IdGenerator
from seqd.model.runs import Run
from seqd.model.timeutil import now
from seqd.observe.alerts import AlertEngine
from seqd.observe.notify import Notifier
from seqd.observe.registry import Registry
from seqd.observe.runs import RunMetrics
from seqd.plugins.storage import StorageBackend, StorageContext
from seqd.testing.storage import run_async

IDS = IdGenerator()


def store(tmp_path: Path) -> StorageBackend:
    context = StorageContext(state_dir=str(tmp_path), durability="normal")
    return SQLiteStorageFactory().create({}, context)


def run(task: str, status: str, **fields: Any) -> Run:
    return Run(id=IDS.new(), task=task, status=status, created_at=now(), **fields)  # type: ignore[arg-type]


class Recorder:
    """The two ways out the daemon hands the engine, recording what they are given."""

    def __init__(self) -> None:
        self.submitted: list[tuple[str, dict[str, Any]]] = []
        self.hooked: list[AlertEvent] = []

    async def submit(self, task: str, data: dict[str, Any]) -> Any:
        self.submitted.append((task, data))

    async def hook(self, event: AlertEvent) -> None:
        self.hooked.append(event)


def engine_for(
    rules: list[dict[str, Any]], storage: StorageBackend, recorder: Recorder, rss: int = 0
) -> tuple[AlertEngine, RunMetrics, Registry]:
    registry = Registry()
    runs = RunMetrics(registry)
    settings = msgspec.convert({"rules": rules}, AlertsSettings)  # as from the config file
    engine = AlertEngine(
        settings,
        registry=registry,
        runs=runs,
        rss=lambda: rss,
        storage=storage,
        notifier=Notifier(recorder.submit, recorder.hook),
    )
    return engine, runs, registry


def _fields(r: Run) -> dict[str, Any]:
    return {f: getattr(r, f) for f in r.__struct_fields__}


def fail(runs: RunMetrics, task: str) -> None:
    r = run(task, "failed")
    runs.transition(r, "running")


def test_pending_firing_resolved_with_for(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()

    async def main() -> None:
        storage = store(tmp_path)
        await storage.open()
        try:
            rule = {"name": "etl-broken", "kind": "consecutive_failures", "task": "etl",
                    "count": 2, "for": "0.2s", "notify_task": "page-me"}  # fmt: skip
            engine, runs, registry = engine_for([rule], storage, recorder)
            await engine.restore()
            fail(runs, "etl")
            await engine.evaluate()
            assert engine.alerts["etl-broken"].state == "inactive"
            fail(runs, "etl")
            await engine.evaluate()
            assert engine.alerts["etl-broken"].state == "pending"
            await engine.evaluate()  # not yet 0.2 s
            assert engine.alerts["etl-broken"].state == "pending"
            time.sleep(0.25)
            await engine.evaluate()
            assert engine.alerts["etl-broken"].state == "firing"
            assert registry.value("seqd_alerts_firing", {"rule": "etl-broken"}) == 1.0
            runs.transition(run("etl", "succeeded"), "running")
            await engine.evaluate()
            assert engine.alerts["etl-broken"].state == "inactive"
            await engine.stop()  # lets the notifications finish
            history = await storage.list_alert_events()
            assert [(e.previous, e.state) for e in reversed(history)] == [
                ("inactive", "pending"),
                ("pending", "firing"),
                ("firing", "resolved"),
            ]
            assert history[1].value == 2.0 and history[1].details["task"] == "etl"
        finally:
            await storage.close()

    with caplog.at_level(logging.WARNING, logger="seqd.observe.notify"):
        run_async(main())
    assert [e.state for e in recorder.hooked] == ["firing", "resolved"]
    assert [(t, d["alert"]["state"]) for t, d in recorder.submitted] == [
        ("page-me", "firing"),
        ("page-me", "resolved"),
    ]
    assert recorder.submitted[0][1]["alert"]["rule"] == "etl-broken"
    assert "alert etl-broken FIRING" in caplog.text and "RESOLVED" in caplog.text


def test_a_pending_alert_that_clears_goes_back_to_inactive(tmp_path: Path) -> None:
    recorder = Recorder()

    async def main() -> None:
        storage = store(tmp_path)
        await storage.open()
        try:
            rule = {"name": "slow", "kind": "run_duration", "above": "0s", "for": "1h"}
            engine, runs, _ = engine_for([rule], storage, recorder)
            started = run("etl", "running")
            runs.transition(started, "queued")
            await engine.evaluate()
            alert = engine.alerts["slow"]
            assert alert.state == "pending"
            assert alert.last is not None and alert.last.details["runs"] == [started.id]
            runs.transition(Run(**{**_fields(started), "status": "succeeded"}), "running")
            await engine.evaluate()
            assert alert.state == "inactive"
            states = [e.state for e in await storage.list_alert_events(rule="slow")]
            assert states == ["inactive", "pending"]
        finally:
            await storage.close()

    run_async(main())
    assert recorder.hooked == []  # pending and its clearing are not notified


def test_threshold_rate_and_rss(tmp_path: Path) -> None:
    recorder = Recorder()

    async def main() -> None:
        storage = store(tmp_path)
        await storage.open()
        try:
            rules = [
                {"name": "failing", "kind": "threshold", "metric": "seqd_runs_finished_total",
                 "labels": {"task": "etl", "status": "failed"}, "function": "increase",
                 "window": "1h", "op": ">=", "threshold": 2},
                {"name": "fat", "kind": "rss", "above": "1MiB"},
            ]  # fmt: skip
            engine, runs, _ = engine_for(rules, storage, recorder, rss=2 * 2**20)
            await engine.evaluate()  # the first reading: no increase known yet
            assert engine.alerts["failing"].state == "inactive"
            assert engine.alerts["fat"].state == "firing"
            fail(runs, "etl")
            fail(runs, "other")
            await engine.evaluate()
            assert engine.alerts["failing"].state == "inactive"  # increase 1
            fail(runs, "etl")
            await engine.evaluate()
            assert engine.alerts["failing"].state == "firing"  # increase 2
            assert engine.alerts["failing"].last.value == 2.0  # type: ignore[union-attr]
        finally:
            await storage.close()

    run_async(main())


def test_firing_survives_a_restart_and_resolves_after(tmp_path: Path) -> None:
    recorder = Recorder()

    async def main() -> None:
        storage = store(tmp_path)
        await storage.open()
        rule = {"name": "streak", "kind": "consecutive_failures", "task": "etl", "count": 1}
        try:
            engine, runs, _ = engine_for([rule], storage, recorder)
            await storage.create_run(run("etl", "failed"))
            await engine.restore()  # reads the task's newest runs: one failure
            assert runs.failures_in_a_row == {"etl": 1}
            await engine.evaluate()
            assert engine.alerts["streak"].state == "firing"
        finally:
            await storage.close()
        storage = store(tmp_path)  # a new daemon on the same store
        await storage.open()
        try:
            engine, runs, _ = engine_for([rule], storage, recorder)
            await engine.restore()
            assert engine.alerts["streak"].state == "firing"
            await storage.create_run(run("etl", "succeeded"))
            runs.failures_in_a_row["etl"] = 0
            await engine.evaluate()
            assert engine.alerts["streak"].state == "inactive"
            await engine.stop()
            states = [e.state for e in await storage.list_alert_events(rule="streak")]
            assert states == ["resolved", "firing"]
        finally:
            await storage.close()

    run_async(main())
    assert [e.state for e in recorder.hooked] == ["firing", "resolved"]


def test_a_refused_write_keeps_the_state_and_notifies_nothing(tmp_path: Path) -> None:
    recorder = Recorder()

    async def main() -> None:
        storage = store(tmp_path)
        await storage.open()
        engine, runs, _ = engine_for(
            [{"name": "streak", "kind": "consecutive_failures", "task": "etl", "count": 1}],
            storage,
            recorder,
        )
        fail(runs, "etl")
        await storage.close()  # every write now fails with storage_unavailable
        await engine.evaluate()
        assert engine.alerts["streak"].state == "inactive"
        storage = store(tmp_path)
        await storage.open()
        engine._storage = storage  # the store is back (as after an outage)
        try:
            await engine.evaluate()
            assert engine.alerts["streak"].state == "firing"
            await engine.stop()
            assert [e.state for e in await storage.list_alert_events()] == ["firing"]
        finally:
            await storage.close()

    run_async(main())
    assert [e.state for e in recorder.hooked] == ["firing"]
