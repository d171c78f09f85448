"""The assembled daemon: plugins, storage, catalog, engine and server, with a clear
start-up / serve / shutdown split (uvicorn's shape)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time

import msgspec

from seqd import __version__
from seqd.access.policy import Policy
from seqd.access.roles import Roles
from seqd.access.tokens import TokenStore
from seqd.api import build as build_handlers
from seqd.catalog.catalog import Catalog
from seqd.catalog.watch import TaskWatcher
from seqd.config.secrets import Secrets, SecretsError, load_secrets
from seqd.config.settings import Config, ConfigError
from seqd.daemon import systemd
from seqd.daemon.errors import StartupError
from seqd.daemon.listener import Listener
from seqd.engine import Engine
from seqd.errors import ValidationFailed
from seqd.events.bus import EventBus
from seqd.model import timeutil
from seqd.model.alerts import AlertEvent
from seqd.observe.hub import Observability
from seqd.plugins.daemoninfo import DaemonInfo
from seqd.plugins.host import PluginHost
from seqd.plugins.local import LocalApi
from seqd.plugins.sections import check as check_sections
from seqd.plugins.storage import StorageBackend, StorageContext, StoreHeld
from seqd.plugins.tasktype import Services
from seqd.plugins.tracing import DaemonLifecycle
from seqd.rpc.dispatch import Dispatcher
from seqd.rpc.protocol import METHODS
from seqd.rpc.server import Server
from seqd.rpc.status import ReloadResult
from seqd.scheduler import Scheduler, configured
from seqd.scheduler.events import ScheduleEvent
from seqd.scheduler.operations import Operations
from seqd.storage.closing import STOP_SLACK_S, close_within
from seqd.storage.retention import Pruner, RetentionSchedule
from seqd.storage.traced import TracedStorage
from seqd.tools.folder import FolderTools
from seqd.tools.ratelimit import KeyedBuckets
from seqd.tools.service import ToolService

logger = logging.getLogger(__name__)


class App:
    storage: StorageBackend
    catalog: Catalog
    engine: Engine
    pruner: Pruner
    tools: ToolService
    scheduler: Scheduler
    schedules: Operations
    access: Policy
    server: Server | None

    def __init__(self, config: Config) -> None:
        self.config = config
        self.listener = Listener(config)
        self.state_dir = os.path.abspath(config.resolved_state_dir())
        self.task_dirs = config.resolved_task_dirs()
        self.tool_dirs = config.resolved_tool_dirs()
        self.node = config.node or socket.gethostname()
        self.started = time.monotonic()
        self.host = PluginHost(config.disabled_plugins)
        self.observe = Observability(config.metrics, config.alerts)
        self.observe.record_calls(
            METHODS, lambda name: hasattr(self, "tools") and self.tools.has(name)
        )
        self.events = EventBus(config.events.topic_backlog)
        self.events.topic("alerts", "alert state changes: pending, firing, resolved")
        self.events.topic("schedules", "what schedules did: fired, skipped, misfired...")
        self.server, self.api, self.tokens = None, LocalApi(), TokenStore(self.state_dir)
        self._stop = asyncio.Event()
        self._stop_reason = ""
        self._watcher: TaskWatcher | None = None
        self._tool_watcher: TaskWatcher | None = None
        rate, burst = config.limits.rpc_rate_per_s, config.limits.rpc_burst
        self.rpc_limits: KeyedBuckets | None = KeyedBuckets(rate, burst) if rate > 0 else None
        self._watchdog: systemd.Watchdog | None = None
        self._started_types: list[str] = []
        self._retention: RetentionSchedule | None = None

    # -- start-up --------------------------------------------------------------------

    async def start(self) -> None:
        cfg = self.config
        await self.listener.claim()  # first: a second daemon stops before touching anything
        if cfg.alerts.rules and not cfg.metrics.enabled:
            raise StartupError(
                "alerts.rules need metrics: set metrics.enabled = true or remove the rules",
                exit_code=2,
            )
        self.observe.registry.bind(asyncio.get_running_loop())
        os.makedirs(self.state_dir, mode=0o750, exist_ok=True)
        logger.info("seqd %s (pid %d, node %s)", __version__, os.getpid(), self.node)
        logger.info("config file: %s", cfg.config_file or "none (defaults)")
        logger.info("state dir:   %s", self.state_dir)
        logger.info("task dirs:   %s", ", ".join(self.task_dirs))
        logger.info("tool dirs:   %s", ", ".join(self.tool_dirs))
        self.host.load()
        try:  # names and files are looked up off the loop (NSS may ask a server)
            check_sections(cfg, self.host.config_sections.items())
            self.access = Policy(cfg, await asyncio.to_thread(Roles, cfg.access))
            await self.load_secrets()
        except (ConfigError, SecretsError) as exc:
            raise StartupError(str(exc), exit_code=2) from exc
        for record in self.host.records.values():
            if record.error:
                logger.error("plugin %s: %s", record.name, record.error)
        self.storage = await self._open_storage()
        logger.info("storage:     %s at %s", self.storage.name, self.storage.location)
        self.events.head = await self.storage.last_change()
        for d in [*self.task_dirs, *self.tool_dirs]:
            if d.startswith(self.state_dir):
                os.makedirs(d, exist_ok=True)
        services = Services(
            config=cfg,
            state_dir=self.state_dir,
            node=self.node,
            has_tool=lambda name: hasattr(self, "tools") and self.tools.has(name),
            secrets=self.secrets,
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
        self.catalog = Catalog(
            self.task_dirs,
            self.host.task_types,
            sections={configured.SECTION: configured.config_problems},
        )
        await self.catalog.reload(report=False)  # told below, once tools are known
        self.engine = Engine(
            storage=self.storage,
            catalog=self.catalog,
            host=self.host,
            config=cfg,
            state_dir=self.state_dir,
            node=self.node,
            metrics=self.observe.runs,
            custom_metrics=self.observe.custom,
            access=self.access,
            events=self.events,
        )
        if isinstance(self.storage, TracedStorage):
            self.storage.trace_for = self.engine.trace_for
        self.observe.record_daemon(self.engine.stats, self.host.tracer_stats)
        calls = self.observe.calls
        self.tools = ToolService(
            registry=self.host.tools,
            folders=FolderTools(self.tool_dirs, self.host.task_types),
            config=cfg,
            state_dir=self.state_dir,
            storage=self.storage,
            runs=self.engine,
            emit=self.host.emit,
            observe=calls.tool if calls is not None else None,
            access=self.access,
            secrets=self.host.secrets,
        )
        await self.tools.start()
        self.engine.tools = self.tools
        await self.catalog.reload_checks()  # flows check their tools; invalid tasks logged
        await self.host.startup(self.info())
        await self.engine.recover()
        try:
            await self.observe.start(self.storage, self.engine.submit, self._on_alert)
        except OSError as exc:
            raise StartupError(f"metrics.listen {cfg.metrics.listen}: {exc}") from exc
        self.pruner = Pruner(self.storage, self.engine.work_root, cfg.retention.batch)
        await self._start_scheduler()
        dispatcher = Dispatcher(
            build_handlers(self),
            limiter=self._rate_limit,
            observe=calls.rpc if calls is not None else None,
        )
        self.server = Server(
            dispatcher,
            limits=cfg.limits,
            role_of=self.access.roles.of_peer,
        )
        self.api.bind(dispatcher, self.access.roles.of_submitter, self.tokens.owner)
        await self.listener.listen(self.server)
        if cfg.watch:
            self._watcher = TaskWatcher(self.task_dirs, self.reload, cfg.reload_debounce_s)
            await self._watcher.start()
            self._tool_watcher = TaskWatcher(
                self.tool_dirs, self.reload_tools, cfg.reload_debounce_s, depth=2
            )
            await self._tool_watcher.start()
        self._retention = RetentionSchedule(self.pruner, cfg.retention)
        self._retention.start()
        self.host.emit(DaemonLifecycle(ts=timeutil.now(), phase="ready"))
        interval = systemd.watchdog_interval()
        if interval:
            self._watchdog = systemd.Watchdog(interval)
            self._watchdog.start(asyncio.get_running_loop())
        systemd.ready(f"serving on {self.socket_path}")
        logger.info("ready: listening on %s", self.socket_path)

    async def _start_scheduler(self) -> None:
        settings = self.config.scheduler
        self.scheduler = Scheduler(
            storage=self.storage,
            engine=self.engine,
            catalog=self.catalog,
            zone=settings.timezone,
            misfire_grace_s=settings.misfire_grace_s,
            on_event=self.on_schedule_event,
        )
        try:
            await self.scheduler.start()
        except ValueError as exc:  # zones.UnknownZone
            raise StartupError(f"scheduler.timezone: {exc}", exit_code=2) from exc
        await configured.sync(self.scheduler, self.catalog)
        self.scheduler.kick_all()
        self.schedules = Operations(self.scheduler, self.config.limits.max_input_bytes)

    def on_schedule_event(self, event: ScheduleEvent) -> None:
        """What the scheduler did (fired, skipped, queued, misfired, failed): already
        logged; the one place to hand it on (events, metrics)."""
        self.events.publish("schedules", msgspec.to_builtins(event))
        metrics = self.observe.schedules
        if metrics is None:
            return
        if event.kind in ("fired", "triggered"):
            metrics.fired(event.schedule)
        elif event.kind == "skipped":
            metrics.missed(event.schedule, "overlap")
        elif event.kind == "misfired" and event.missed > event.ran:
            metrics.missed(event.schedule, "misfire", event.missed - event.ran)

    async def _on_alert(self, event: AlertEvent) -> None:
        """An alert changed state: to subscribers of the ``alerts`` topic, then to the
        ``seqd_alert`` hooks of plugins."""
        self.events.publish("alerts", msgspec.to_builtins(event))
        await self.host.alert(event)

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
            calls = self.observe.calls
            backend = TracedStorage(
                factory.create(dict(self.config.backends.get(name, {})), context),
                self.host.emit,
                self.host.wants,
                calls.storage if calls is not None else None,
                self.events,
            )
            # The claim comes before open: a refused daemon has migrated nothing.
            await backend.claim()
            await backend.open()
        except StoreHeld as exc:
            raise StartupError(str(exc), exit_code=2) from None
        except ValidationFailed as exc:
            raise StartupError(f"storage {name!r}: {exc}", exit_code=2) from exc
        except Exception as exc:
            raise StartupError(f"storage {name!r} could not be opened: {exc}") from exc
        return backend

    @property
    def socket_path(self) -> str:
        return self.listener.path

    @property
    def secrets(self) -> Secrets:
        """The daemon's secrets: one object, shared by everything that uses or masks
        them (the plugin host holds it for its tracers)."""
        return self.host.secrets

    async def load_secrets(self) -> None:
        """Read the secrets (at start, and again on reload; in a thread): ``SecretsError``
        says why they cannot be read."""
        cfg = self.config.secrets
        directory = os.environ.get("CREDENTIALS_DIRECTORY") if cfg.credentials else None
        self.secrets.replace(await asyncio.to_thread(load_secrets, cfg.file, directory))
        if self.secrets.names():
            logger.info("secrets:     %s", ", ".join(self.secrets.names()))

    def _rate_limit(self, uid: int) -> None:
        """The per-client request limit (``limits.rpc_rate_per_s``), by peer uid."""
        if self.rpc_limits is not None:
            self.rpc_limits.check(uid, f"requests from uid {uid}")

    def info(self) -> DaemonInfo:
        return DaemonInfo(
            version=__version__,
            node=self.node,
            pid=os.getpid(),
            socket=self.socket_path,
            state_dir=self.state_dir,
            storage=self.config.storage,
            config=self.config,
            metrics=self.observe.registry if self.observe.enabled else None,
            api=self.api,
        )

    # -- while serving ---------------------------------------------------------------

    async def reload(self) -> ReloadResult:
        systemd.reloading()
        try:
            if hasattr(self, "access"):
                self.access.roles.forget()  # group memberships may have changed
                try:
                    await self.load_secrets()
                except SecretsError as exc:
                    logger.error("secrets not reloaded (the old ones stay): %s", exc)
            has_tools = hasattr(self, "tools")
            result = await self.catalog.reload(report=not has_tools)
            if hasattr(self, "scheduler"):
                await configured.sync(self.scheduler, self.catalog)
            if has_tools:
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
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace + STOP_SLACK_S  # the bound of the whole stop
        if self.server is not None:
            await self.server.stop_accepting()
        await self.observe.stop()
        for watcher in (self._watcher, self._tool_watcher):
            if watcher is not None:
                await watcher.stop()
        if hasattr(self, "scheduler"):
            await self.scheduler.stop(grace)
        if self._retention is not None:
            await self._retention.stop()
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
            await close_within(self.storage, max(1.0, deadline - loop.time()))
        await asyncio.to_thread(self.host.close_tracers, 5.0)
        if self._watchdog is not None:
            self._watchdog.stop()
        await self.listener.release()  # last: the next daemon may start now
        logger.info("stopped")
