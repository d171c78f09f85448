"""The plugin host: a fresh host per test, real pluggy, fixture plugins."""

from __future__ import annotations

import asyncio
from typing import Any

from seqd import hookimpl
from seqd.config.settings import Config
from seqd.plugins.daemoninfo import DaemonInfo
from seqd.plugins.host import BUILTIN_PLUGINS, PluginHost


class FakeTool:
    def __init__(self, name: str) -> None:
        self.name = name
        self.description = "x"
        self.params_schema: dict[str, Any] = {}
        self.result_schema: dict[str, Any] = {}

    async def call(self, params: dict[str, Any]) -> Any:
        return params


class ToolsA:
    @hookimpl
    def seqd_register_tools(self, register: Any) -> None:
        register(FakeTool("a.one"))
        register(FakeTool("shared"))


class ToolsB:
    @hookimpl
    def seqd_register_tools(self, register: Any) -> None:
        register(FakeTool("shared"))
        register(FakeTool("b.two"))


class NotATool:
    @hookimpl
    def seqd_register_tools(self, register: Any) -> None:
        register(object())


class Lifecycle:
    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl
    async def seqd_startup(self, daemon: DaemonInfo) -> None:
        self.seen.append(f"start {daemon.node}")

    @hookimpl
    def seqd_shutdown(self, daemon: DaemonInfo) -> None:
        self.seen.append("stop")


class Failing:
    @hookimpl
    def seqd_startup(self, daemon: DaemonInfo) -> None:
        raise RuntimeError("boom")


def host_with(*plugins: tuple[str, object]) -> PluginHost:
    host = PluginHost()
    for name, plugin in plugins:
        host.register(name, plugin)
    host.load(builtins=(), entry_points=False)
    return host


def info() -> DaemonInfo:
    return DaemonInfo("0", "node1", 1, "/s", "/d", "sqlite", Config())


def test_contributions_are_attributed() -> None:
    host = host_with(("a", ToolsA()))
    assert host.tools.names() == ["a.one", "shared"]
    assert host.tools.owner("shared") == "a"
    assert host.records["a"].contributes == {"tools": ["a.one", "shared"]}


def test_duplicate_names_name_both_plugins() -> None:
    host = host_with(("a", ToolsA()), ("b", ToolsB()))
    assert host.tools.owner("shared") in ("a", "b")
    errors = [r.error for r in host.records.values() if r.error]
    assert len(errors) == 1
    assert "'shared'" in errors[0] and "'a'" in errors[0] and "'b'" in errors[0]


def test_wrong_interface_is_reported() -> None:
    host = host_with(("bad", NotATool()))
    assert len(host.tools) == 0
    assert "without a name" in (host.records["bad"].error or "")


def test_lifecycle_hooks_awaited_and_failures_isolated() -> None:
    life = Lifecycle()
    host = host_with(("life", life), ("failing", Failing()))
    asyncio.run(host.startup(info()))
    asyncio.run(host.shutdown(info()))
    assert life.seen == ["start node1", "stop"]
    assert "boom" in (host.records["failing"].error or "")


def test_import_failure_is_reported(monkeypatch) -> None:
    monkeypatch.setitem(BUILTIN_PLUGINS, "no_such_module", "seqd.no_such_module")
    host = PluginHost()
    host.load(builtins=("no_such_module",), entry_points=False)
    assert "failed to load" in (host.records["no_such_module"].error or "")


def test_disabled_plugins_are_not_loaded() -> None:
    host = PluginHost(disabled=["tracer_log"])
    host.load(entry_points=False)
    assert "tracer_log" not in host.records
    assert "log" not in host.tracers.names()


def test_builtins_register_through_the_hooks() -> None:
    host = PluginHost()
    host.load(entry_points=False)
    assert {r.source for r in host.records.values()} == {"builtin"}
    assert all(r.error is None for r in host.records.values()), host.records
    assert len(host.records) == len(BUILTIN_PLUGINS)
    assert "sqlite" in host.storage.names()
    assert {"python", "shell"} <= set(host.task_types.names())
    assert "log" in host.tracers.names()


def test_failing_tracer_does_not_stop_others() -> None:
    from seqd.plugins.tracing import DaemonLifecycle

    got: list[str] = []

    class Bad:
        name = "bad"

        def on_event(self, event: Any) -> None:
            raise RuntimeError("tracer bug")

    class Good:
        name = "good"

        def on_event(self, event: Any) -> None:
            got.append(event.phase)

    class Tracers:
        @hookimpl
        def seqd_register_tracers(self, register: Any) -> None:
            register(Bad())
            register(Good())

    host = host_with(("t", Tracers()))
    host.emit(DaemonLifecycle(ts="x", phase="ready"))
    assert host.flush_tracers()
    assert got == ["ready"]
    assert host.tracer_stats()["bad"]["failed"] == 1


def test_a_tracer_gets_only_the_events_it_asked_for() -> None:
    from seqd.plugins.tracing import DaemonLifecycle, RunTransition, StorageCall

    picky: list[str] = []
    every: list[str] = []

    class Picky:
        name = "picky"
        events = (DaemonLifecycle,)

        def on_event(self, event: Any) -> None:
            picky.append(type(event).__name__)

    class Every:
        name = "every"

        def on_event(self, event: Any) -> None:
            every.append(type(event).__name__)

    class Tracers:
        def __init__(self, *tracers: Any) -> None:
            self.tracers = tracers

        @hookimpl
        def seqd_register_tracers(self, register: Any) -> None:
            for tracer in self.tracers:
                register(tracer)

    host = host_with(("t", Tracers(Picky(), Every())))
    transition = RunTransition(
        ts="x", run_id="r", task="t", from_status=None, to_status="queued", reason=None
    )
    host.emit(DaemonLifecycle(ts="x", phase="ready"))
    host.emit(transition)
    assert host.flush_tracers()
    assert picky == ["DaemonLifecycle"]
    assert every == ["DaemonLifecycle", "RunTransition"]
    assert host.wants(StorageCall)
    only_picky = host_with(("t", Tracers(Picky())))
    assert only_picky.wants(DaemonLifecycle) and not only_picky.wants(StorageCall)
