"""The assembled daemon: plugins, storage, catalog, engine and server, with a clear
start-up / serve / shutdown split (uvicorn's shape)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time

from seqd import __version__
from seqd.api import build as build_handlers
from seqd.catalog.catalog import Catalog
from seqd.catalog.watch import TaskWatcher
from seqd.config.settings import Config, ConfigError
from seqd.daemon import systemd
from seqd.engine import Engine
from seqd.errors import ValidationFailed
from seqd.events.bus import EventBus
from seqd.model import timeutil
from seqd.plugins.daemoninfo import DaemonInfo
from seqd.plugins.host import PluginHost
from seqd.plugins.storage import StorageBackend, StorageContext
from seqd.plugins.tasktype import Services
from seqd.plugins.tracing import DaemonLifecycle
from seqd.rpc.dispatch import Dispatcher
from seqd.rpc.protocol import ReloadResult
from seqd.rpc.server import Server
from seqd.storage.traced import TracedStorage
from seqd.tools.folder import FolderTools
from seqd.tools.ratelimit import KeyedBuckets
from seqd.tools.service import ToolService

logger = logging.getLogger(__name__)


class StartupError(Exception):
    """The daemon cannot start; the message says why and what to do. ``exit_code``
    is 2 for a configuration mistake, 1 otherwise."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class App:
    storage: StorageBackend
    catalog: Catalog
    engine: Engine
    tools: ToolService
    server: Server | None

    def __init__(self, config: Config) -> None:
        self.config = config
        self.socket_path = config.resolved_socket()
        self.state_dir = os.path.abspath(config.resolved_state_dir())
        self.task_dirs = config.resolved_task_dirs()
        self.tool_dirs = config.resolved_tool_dirs()
        self.node = config.node or socket.gethostname()
        self.started = time.monotonic()
        self.host = PluginHost(config.disabled_plugins)
        self.events = EventBus(config.events.topic_backlog)
        self.server = None
        self._stop = asyncio.Event()
        self._stop_reason = ""
        self._bound_path: str | None = None
        self._watcher: TaskWatcher | None = None
        self._tool_watcher: TaskWatcher | None = None
        limits = config.limits
        self.rpc_limits: KeyedBuckets | None = (
            KeyedBuckets(limits.rpc_rate_per_s, limits.rpc_burst)
            if limits.rpc_rate_per_s > 0
            else None
        )
        self._watchdog: systemd.Watchdog | None = None
        self._started_types: list[str] = []

    # -- start-up --------------------------------------------------------------------

    async def start(self) -> None:
        cfg = self.config
        os.makedirs(self.state_dir, mode=0o750, exist_ok=True)
        for d in [*self.task_dirs, *self.tool_dirs]:
            if d.startswith(self.state_dir):
                os.makedirs(d, exist_ok=True)
        logger.info("seqd %s (pid %d, node %s)", __version__, os.getpid(), self.node)
        logger.info("config file: %s", cfg.config_file or "none (defaults)")
        logger.info("state dir:   %s", self.state_dir)
        logger.info("task dirs:   %s", ", ".join(self.task_dirs))
        logger.info("tool dirs:   %s", ", ".join(self.tool_dirs))
        self.host.load()
        for record in self.host.records.values():
            if record.error:
                logger.error("plugin %s: %s", record.name, record.error)
        self.storage = await self._open_storage()
        logger.info("storage:     %s at %s", self.storage.name, self.storage.location)
        self.events.head = await self.storage.last_change()
        services = Services(
            config=cfg,
            state_dir=self.state_dir,
            node=self.node,
            has_tool=lambda name: hasattr(self, "tools") and self.tools.has(name),
        )
        for name, task_type in zip(
            self.host.task_types.names(), self.host.task_types.items(), strict=True
        ):
            try:
                await task_type.start(services)
                self._started_types.append(name)
            except ConfigError as exc:
                raise StartupError(f"{exc}", exit_code=2) from exc
            except Exception as exc:
                owner = self.host.task_types.owner(name)
                logger.exception("task type %s (plugin %s) failed to start", name, owner)
                owner_record = self.host.records.get(owner or "")
                if owner_record is not None:
                    owner_record.error = f"task type {name} failed to start: {exc}"
        self.catalog = Catalog(self.task_dirs, self.host.task_types)
        await self.catalog.reload()
        self.engine = Engine(
            storage=self.storage,
            catalog=self.catalog,
            host=self.host,
            config=cfg,
            state_dir=self.state_dir,
            node=self.node,
        )
        self.tools = ToolService(
            registry=self.host.tools,
            folders=FolderTools(self.tool_dirs, self.host.task_types),
            config=cfg,
            state_dir=self.state_dir,
            storage=self.storage,
            runs=self.engine,
            emit=self.host.emit,
        )
        await self.tools.start()
        self.engine.tools = self.tools
        if any(e.definition.type == "flow" for e in self.catalog.entries.values()):
            await self.catalog.reload_checks()  # flows can check their tools now
        await self.host.startup(self.info())
        await self.engine.recover()
        dispatcher = Dispatcher(build_handlers(self), limiter=self._rate_limit)
        self.server = Server(
            dispatcher,
            max_line_bytes=cfg.limits.max_line_bytes,
            max_connections=cfg.limits.max_connections,
            is_admin=self._is_admin,
        )
        await self._listen(self.server)
        if cfg.watch:
            self._watcher = TaskWatcher(self.task_dirs, self.reload, cfg.reload_debounce_s)
            self._watcher.start()
            self._tool_watcher = TaskWatcher(
                self.tool_dirs, self.reload_tools, cfg.reload_debounce_s, depth=2
            )
            self._tool_watcher.start()
        self.host.emit(DaemonLifecycle(ts=timeutil.now(), phase="ready"))
        interval = systemd.watchdog_interval()
        if interval:
            self._watchdog = systemd.Watchdog(interval)
            self._watchdog.start(asyncio.get_running_loop())
        systemd.ready(f"serving on {self.socket_path}")
        logger.info("ready: listening on %s", self.socket_path)

    async def _open_storage(self) -> StorageBackend:
        name = self.config.storage
        factory = self.host.storage.get(name)
        if factory is None:
            known = ", ".join(self.host.storage.names()) or "none"
            raise StartupError(
                f"unknown storage backend {name!r} (available: {known})", exit_code=2
            )
        context = StorageContext(state_dir=self.state_dir, durability=self.config.durability)
        try:
            backend = TracedStorage(
                factory.create(dict(self.config.backends.get(name, {})), context),
                self.host.emit,
                self.host.wants,
                self.events,
            )
            await backend.open()
        except ValidationFailed as exc:
            raise StartupError(f"storage {name!r}: {exc}", exit_code=2) from exc
        except Exception as exc:
            raise StartupError(f"storage {name!r} could not be opened: {exc}") from exc
        return backend

    async def _listen(self, server: Server) -> None:
        try:
            inherited = systemd.activation_socket()
        except systemd.UnsupportedSocket as exc:
            raise StartupError(str(exc)) from exc
        if inherited is not None:
            await server.listen_socket(inherited)
            name = inherited.getsockname()
            self.socket_path = name if isinstance(name, str) and name else self.socket_path
            logger.info("socket:      %s (from systemd socket activation)", self.socket_path)
            return
        access = self.config.access
        try:
            await server.listen_path(self.socket_path, access.socket_mode, access.socket_group)
        except (OSError, RuntimeError, KeyError) as exc:
            raise StartupError(f"cannot listen on {self.socket_path}: {exc}") from exc
        self._bound_path = self.socket_path
        logger.info("socket:      %s", self.socket_path)

    def _rate_limit(self, uid: int) -> None:
        """The per-client request limit (``limits.rpc_rate_per_s``), by peer uid."""
        if self.rpc_limits is not None:
            self.rpc_limits.check(uid, f"requests from uid {uid}")

    def _is_admin(self, uid: int) -> bool:
        return uid in (0, os.geteuid()) or uid in self.config.access.admin_uids

    def info(self) -> DaemonInfo:
        return DaemonInfo(
            version=__version__,
            node=self.node,
            pid=os.getpid(),
            socket=self.socket_path,
            state_dir=self.state_dir,
            storage=self.config.storage,
            config=self.config,
        )

    # -- while serving ---------------------------------------------------------------

    async def reload(self) -> ReloadResult:
        systemd.reloading()
        try:
            result = await self.catalog.reload()
            if hasattr(self, "tools"):
                await self.tools.reload()
                await self.catalog.reload_checks()  # flows see the tools as they are now
        finally:
            systemd.ready(f"serving on {self.socket_path}")
        return result

    async def reload_tools(self) -> list[str]:
        changed = await self.tools.reload()
        await self.catalog.reload_checks()  # flows that call tools are checked again
        return changed

    def request_stop(self, reason: str) -> None:
        if not self._stop.is_set():
            logger.info("stopping: %s", reason)
            self._stop_reason = reason
            self._stop.set()

    async def wait_stopped(self) -> None:
        await self._stop.wait()

    # -- shutdown --------------------------------------------------------------------

    async def stop(self) -> None:
        systemd.stopping()
        grace = self.config.shutdown_grace_s
        if self.server is not None:
            await self.server.stop_accepting()
        for watcher in (self._watcher, self._tool_watcher):
            if watcher is not None:
                await watcher.stop()
        if hasattr(self, "engine"):
            await self.engine.shutdown(grace)
        self.events.close("shutdown")  # each subscriber gets the cursor to resume from
        if self.server is not None:
            await self.server.close_connections()
        for name in self._started_types:
            task_type = self.host.task_types.get(name)
            if task_type is None:
                continue
            try:
                await task_type.stop(grace)
            except Exception:
                logger.exception("task type %s failed to stop", name)
        if hasattr(self, "storage"):
            await self.host.shutdown(self.info())
            self.host.emit(DaemonLifecycle(ts=timeutil.now(), phase="stopped"))
            try:
                await self.storage.close()
            except Exception:
                logger.exception("closing storage failed")
        if self._watchdog is not None:
            self._watchdog.stop()
        if self._bound_path is not None:
            try:
                os.unlink(self._bound_path)
            except OSError:
                pass
        logger.info("stopped")
