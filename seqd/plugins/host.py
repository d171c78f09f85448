"""The plugin host: builds the pluggy manager, loads built-in and entry-point plugins,
and collects their contributions into typed registries.

The core never calls ``pm.hook.*`` itself: it uses the typed methods here, so every call
site is checked by mypy and a broken plugin is reported (log + ``plugins.list``) instead
of taking the daemon down.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from importlib import metadata
from typing import Any, Generic, TypeVar

import pluggy

from seqd import PROJECT
from seqd.config.secrets import Secrets
from seqd.errors import PluginError
from seqd.model.alerts import AlertEvent
from seqd.plugins import hookspecs
from seqd.plugins.daemoninfo import DaemonInfo
from seqd.plugins.lanes import TracerLane
from seqd.plugins.sections import ConfigSection
from seqd.plugins.storage import StorageFactory
from seqd.plugins.tasktype import TaskType
from seqd.plugins.tools import Tool
from seqd.plugins.tracing import TraceEvent, Tracer, wanted

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = PROJECT

BUILTIN_PLUGINS: dict[str, str] = {
    "storage_sqlite": "seqd.builtin.storage.sqlite.backend",
    "storage_fs": "seqd.builtin.storage.fs.backend",
    "task_python": "seqd.builtin.tasks.python.tasktype",
    "task_shell": "seqd.builtin.tasks.shell",
    "task_flow": "seqd.builtin.tasks.flow",
    "tracer_log": "seqd.builtin.tracers.log",
    "tools_file": "seqd.builtin.tools.file",
    "tools_http": "seqd.builtin.tools.http",
    "tools_kv": "seqd.builtin.tools.kv",
    "tools_shell": "seqd.builtin.tools.shell",
    "tools_task": "seqd.builtin.tools.task",
}
"""Built-in plugins by name (what ``disabled_plugins`` and ``plugins.list`` say) and the
module that implements each."""

T = TypeVar("T")


@dataclass
class PluginRecord:
    name: str
    source: str  # "builtin" | "entry-point"
    version: str | None = None
    contributes: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None


class Registry(Generic[T]):
    """Named contributions of one kind, remembering which plugin added each."""

    def __init__(self, kind: str, check: Callable[[Any], bool]) -> None:
        self.kind = kind
        self._check = check
        self._items: dict[str, T] = {}
        self._owner: dict[str, str] = {}

    def add(self, plugin: str, item: Any) -> None:
        name = getattr(item, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"plugin {plugin!r} registered a {self.kind} without a name")
        if not self._check(item):
            raise PluginError(
                f"plugin {plugin!r} registered {self.kind} {name!r} that does not "
                f"implement the {self.kind} interface"
            )
        if name in self._items:
            raise PluginError(
                f"{self.kind} {name!r} from plugin {plugin!r} is already registered by "
                f"plugin {self._owner[name]!r}"
            )
        self._items[name] = item
        self._owner[name] = plugin

    def get(self, name: str) -> T | None:
        return self._items.get(name)

    def owner(self, name: str) -> str | None:
        return self._owner.get(name)

    def names(self) -> list[str]:
        return sorted(self._items)

    def items(self) -> list[T]:
        return [self._items[n] for n in sorted(self._items)]

    def __len__(self) -> int:
        return len(self._items)


class PluginHost:
    """One per daemon (never module-global): plugins, their records and registries."""

    def __init__(self, disabled: Iterable[str] = ()) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.disabled = set(disabled)
        self.secrets = Secrets()
        """The daemon's secrets (set by the app): their values are masked in events."""
        self.records: dict[str, PluginRecord] = {}
        self.storage: Registry[StorageFactory] = Registry(
            "storage backend", lambda o: isinstance(o, StorageFactory)
        )
        self.task_types: Registry[TaskType] = Registry(
            "task type", lambda o: isinstance(o, TaskType)
        )
        self.tools: Registry[Tool] = Registry("tool", lambda o: isinstance(o, Tool))
        self.tracers: Registry[Tracer] = Registry("tracer", lambda o: isinstance(o, Tracer))
        self.config_sections: Registry[ConfigSection] = Registry(
            "config section", lambda o: isinstance(o, ConfigSection)
        )
        self._by_event: dict[type[TraceEvent], list[TracerLane]] = {}
        self._lanes: dict[str, TracerLane] = {}

    # -- loading -------------------------------------------------------------------

    def load(self, builtins: Iterable[str] = BUILTIN_PLUGINS, entry_points: bool = True) -> None:
        """Load the built-in plugins named in ``builtins`` (all by default), then, unless
        told not to, every plugin of the ``seqd`` entry-point group."""
        for name in builtins:
            module = BUILTIN_PLUGINS[name]
            self._load_one(name, "builtin", None, partial(importlib.import_module, module))
        if entry_points:
            for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
                version = ep.dist.version if ep.dist is not None else None
                self._load_one(ep.name, "entry-point", version, ep.load)
        self._collect()

    def register(self, name: str, plugin: object, source: str = "builtin") -> None:
        """Register an already imported plugin object (tests, embedding)."""
        self._load_one(name, source, None, lambda: plugin)

    def _load_one(
        self, name: str, source: str, version: str | None, loader: Callable[[], object]
    ) -> None:
        if name in self.disabled:
            logger.info("plugin %s is disabled by config", name)
            return
        record = PluginRecord(name=name, source=source, version=version)
        if name in self.records:
            record.error = f"a plugin named {name!r} is already loaded"
            self.records[f"{name}#{source}"] = record
            logger.error("plugin %s (%s): %s", name, source, record.error)
            return
        self.records[name] = record
        try:
            plugin = loader()
            self.pm.register(plugin, name=name)
        except Exception as exc:
            record.error = f"failed to load: {type(exc).__name__}: {exc}"
            logger.exception("plugin %s failed to load", name)

    def _collect(self) -> None:
        """Call each contribution hook once per plugin, so every contribution (and
        every failure) is attributed to the plugin that made it."""
        hooks: list[tuple[str, Any, Registry[Any]]] = [
            ("storage", self.pm.hook.seqd_register_storage_backends, self.storage),
            ("task_types", self.pm.hook.seqd_register_task_types, self.task_types),
            ("tools", self.pm.hook.seqd_register_tools, self.tools),
            ("tracers", self.pm.hook.seqd_register_tracers, self.tracers),
            ("config_sections", self.pm.hook.seqd_register_config_sections, self.config_sections),
        ]
        for kind, caller, registry in hooks:
            for impl in caller.get_hookimpls():
                plugin = impl.plugin_name
                record = self.records.get(plugin)
                added: list[str] = []

                def register(
                    item: Any, _p: str = plugin, _r: Any = registry, _a: list[str] = added
                ) -> None:
                    _r.add(_p, item)
                    _a.append(item.name)

                try:
                    _call(impl, register=register)
                except Exception as exc:
                    message = f"{kind}: {type(exc).__name__}: {exc}"
                    logger.error("plugin %s failed to register %s", plugin, message)
                    if record is not None:
                        record.error = (
                            message if record.error is None else (f"{record.error}; {message}")
                        )
                if added and record is not None:
                    record.contributes.setdefault(kind, []).extend(added)
        self._by_event = {}
        self._lanes = {t.name: TracerLane(t) for t in self.tracers.items()}

    # -- lifecycle -----------------------------------------------------------------

    async def startup(self, info: DaemonInfo) -> None:
        await self._lifecycle("seqd_startup", info)

    async def shutdown(self, info: DaemonInfo) -> None:
        await self._lifecycle("seqd_shutdown", info)

    async def _lifecycle(self, hook: str, info: DaemonInfo) -> None:
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            try:
                result = _call(impl, daemon=info)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                logger.exception("plugin %s: %s failed", impl.plugin_name, hook)
                record = self.records.get(impl.plugin_name)
                if record is not None and record.error is None:
                    record.error = f"{hook}: {type(exc).__name__}: {exc}"

    # -- tracing -------------------------------------------------------------------

    def _lanes_for(self, event_type: type[TraceEvent]) -> list[TracerLane]:
        found = self._by_event.get(event_type)
        if found is None:
            found = [
                self._lanes.get(t.name) or self._lane(t)
                for t in self.tracers.items()
                if wanted(t, event_type)
            ]
            self._by_event[event_type] = found
        return found

    def _lane(self, tracer: Tracer) -> TracerLane:
        lane = self._lanes[tracer.name] = TracerLane(tracer)
        return lane

    def wants(self, event_type: type[TraceEvent]) -> bool:
        """Whether any tracer wants ``event_type``: callers skip building it if not."""
        return bool(self._lanes_for(event_type))

    def emit(self, event: TraceEvent) -> None:
        """Queue ``event`` for every tracer that wants it. Each tracer receives its
        events in order on a thread of its own (``seqd.plugins.lanes``); one that is
        behind loses new events (counted) instead of slowing the daemon."""
        lanes = self._lanes_for(type(event))
        if lanes and self.secrets.active:
            event = self.secrets.redact_value(event)  # no secret value reaches a tracer
        for lane in lanes:
            lane.put(event)

    def tracer_stats(self) -> dict[str, dict[str, int]]:
        """Per tracer: events ``queued``, ``delivered``, ``dropped``, ``failed``."""
        return {name: lane.stats() for name, lane in sorted(self._lanes.items())}

    def flush_tracers(self, timeout: float = 5.0) -> bool:
        """Wait until every tracer has received what was emitted so far (blocking:
        from a thread or a test, not the event loop)."""
        return all([lane.flush(timeout) for lane in self._lanes.values()])

    def close_tracers(self, timeout: float = 5.0) -> None:
        """Deliver what is queued, then stop the tracers' threads (blocking)."""
        for lane in self._lanes.values():
            lane.close(timeout)

    # -- alerts --------------------------------------------------------------------

    async def alert(self, event: AlertEvent, timeout_s: float = 30.0) -> None:
        """Tell every ``seqd_alert`` implementation that an alert fired or resolved.
        A failing plugin is logged; an ``async`` one gets ``timeout_s``."""
        for impl in self.pm.hook.seqd_alert.get_hookimpls():
            try:
                result = _call(impl, alert=event)
                if inspect.isawaitable(result):
                    await asyncio.wait_for(result, timeout_s)
            except Exception:
                logger.exception("plugin %s: seqd_alert failed on %s", impl.plugin_name, event.rule)


def _call(impl: Any, **kwargs: Any) -> Any:
    """Call one hook implementation with the arguments it declares, as pluggy does,
    so a hook can gain arguments without breaking existing plugins."""
    return impl.function(**{name: kwargs[name] for name in impl.argnames if name in kwargs})
