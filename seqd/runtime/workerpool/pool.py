"""The pool of python workers: hand one out per run, take it back, recycle, replace.

The engine's global concurrency bounds how many runs execute at once, so the pool
does not queue: ``acquire`` returns an idle worker or spawns one. Returned workers are
kept idle (up to ``max_idle``) unless they served ``max_runs_per_worker`` runs, grew
past ``max_worker_rss_mb``, were cancelled, or died; ``prestart`` workers are kept warm
so that a run rarely waits for an interpreter to start. Its own module: the policy over
many workers, apart from one worker's life (``process``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import sys
from collections.abc import Coroutine, Mapping
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from seqd.runtime.taskenv import helper_env
from seqd.runtime.workerpool.calls import OpHandler
from seqd.runtime.workerpool.process import KILL_WAIT_S, WorkerProcess

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
READY_TIMEOUT_S = 30.0
"""At start, how long to wait for prestarted workers before going on without them."""


class PoolSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[task_types.python]`` in the daemon config."""

    max_runs_per_worker: Annotated[int, Meta(ge=1)] = 2000
    max_worker_rss_mb: Annotated[int, Meta(ge=1)] = 1024
    """A worker whose resident set is above this after a run is replaced."""
    prestart: Annotated[int, Meta(ge=0)] = 1
    """Workers started ahead of need (at start and after one is retired)."""
    kill_grace_s: Annotated[float, Meta(ge=0)] = 5.0
    """After SIGTERM, how long a cancelled task may clean up before SIGKILL."""
    python: str | None = None
    """Interpreter for workers (it must be able to import seqd); default: the daemon's."""
    schema_timeout_s: Annotated[float, Meta(gt=0)] = 30.0
    """Longest a worker may take to derive an input schema from a signature."""


class WorkerPool:
    """Workers for one task type. ``handlers`` is the ``ctx.call`` dispatch table, shared
    by reference so that operations added later reach every worker."""

    def __init__(
        self,
        settings: PoolSettings,
        *,
        max_idle: int,
        handlers: dict[str, OpHandler] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.env = helper_env() if env is None else dict(env)
        """The workers' environment (``taskenv.helper_env``); a run adds its task's."""
        self.max_idle = max(max_idle, settings.prestart, 1)
        self.handlers: dict[str, OpHandler] = {} if handlers is None else handlers
        self.python = settings.python or sys.executable
        self._idle: list[WorkerProcess] = []
        self._busy: set[WorkerProcess] = set()
        self._all: set[WorkerProcess] = set()
        self._warming: list[asyncio.Task[WorkerProcess | None]] = []
        """Spawns for the warm reserve, oldest first; ``acquire`` may claim one."""
        self._background: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self.spawned = 0
        self.recycled = 0
        self.crashed = 0
        self.killed = 0

    async def start(self) -> None:
        """Spawn the prestarted workers and wait until they are ready. Raises OSError if
        the interpreter cannot be run, ``WorkerDied`` if it cannot start a worker."""
        workers = await asyncio.gather(
            *(self._spawn() for _ in range(self.settings.prestart)), return_exceptions=True
        )
        for worker in workers:
            if isinstance(worker, BaseException):
                raise worker
            self._idle.append(worker)
        for worker in list(self._idle):
            if not await worker.wait_ready(READY_TIMEOUT_S):
                logger.warning("python worker %d is slow to start", worker.pid)

    async def acquire(self) -> WorkerProcess:
        if self._stopping:
            raise RuntimeError("the python worker pool is stopping")
        while self._idle:
            worker = self._idle.pop()
            if worker.alive:
                self._busy.add(worker)
                return worker
        while self._warming:
            # Claim a worker already starting rather than start yet another one.
            task = self._warming.pop(0)
            try:
                claimed = await asyncio.shield(task)
            except asyncio.CancelledError:
                task.add_done_callback(self._adopt)
                raise
            if claimed is not None and claimed.alive:
                self._busy.add(claimed)
                return claimed
        worker = await self._spawn()
        self._busy.add(worker)
        return worker

    def release(
        self,
        worker: WorkerProcess,
        *,
        reuse: bool,
        cancelled: bool = False,
    ) -> None:
        """Take a worker back after a request. ``reuse=False`` discards it (killed if
        still alive); ``cancelled`` says it was cancelled rather than crashed."""
        self._busy.discard(worker)
        if cancelled:
            self.killed += 1
        elif not worker.alive:
            self.crashed += 1
        if not worker.alive:
            pass
        elif not reuse:
            self._retire(worker, kill=True)
        elif worker.runs >= self.settings.max_runs_per_worker:
            logger.info("recycling python worker %d after %d runs", worker.pid, worker.runs)
            self.recycled += 1
            self._retire(worker)
        elif (rss_bytes := worker.resident_bytes()) > self.settings.max_worker_rss_mb * MiB:
            logger.info("recycling python worker %d: %d MiB resident", worker.pid, rss_bytes // MiB)
            self.recycled += 1
            self._retire(worker)
        elif self._stopping or len(self._idle) >= self.max_idle:
            self._retire(worker)
        else:
            self._idle.append(worker)
        self._replenish()

    def stats(self) -> dict[str, int]:
        """Counters for ``daemon.status``: live workers now, and totals since start."""
        alive = [w for w in self._all if w.alive]
        return {
            "workers": len(alive),
            "busy": len(self._busy),
            "idle": len(self._idle),
            "spawned": self.spawned,
            "recycled": self.recycled,
            "crashed": self.crashed,
            "killed": self.killed,
        }

    async def stop(self, grace_s: float) -> None:
        """End every worker: EOF to idle ones, SIGTERM to any still busy, SIGKILL to
        whatever is left after ``grace_s``."""
        self._stopping = True
        self._idle.clear()
        tasks = [*self._background, *self._warming]
        self._warming.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=KILL_WAIT_S)
        workers = [w for w in self._all if w.alive]
        for worker in workers:
            worker.close()
            if worker in self._busy:
                worker.signal(signal.SIGTERM)
        pending = [w.exited for w in workers if not w.exited.done()]
        if pending:
            await asyncio.wait(pending, timeout=grace_s)
        stragglers = [w for w in workers if not w.exited.done()]
        for worker in stragglers:
            logger.info("killing python worker %d at shutdown", worker.pid)
            worker.signal(signal.SIGKILL)
        if stragglers:
            await asyncio.wait([w.exited for w in stragglers], timeout=KILL_WAIT_S)

    # -- internals -----------------------------------------------------------------

    async def _spawn(self) -> WorkerProcess:
        worker = await WorkerProcess.spawn(self.python, self.handlers, self.env)
        self.spawned += 1
        self._all.add(worker)
        worker.exited.add_done_callback(functools.partial(self._on_exit, worker))
        return worker

    def _on_exit(self, worker: WorkerProcess, _exited: object) -> None:
        self._all.discard(worker)
        if worker in self._idle and not self._stopping:
            self._idle.remove(worker)
            if worker.started:
                logger.warning(
                    "idle python worker %d exited (%s)", worker.pid, worker.exited.result()
                )
                self._replenish()
            else:
                # Not again and again: the next run spawns one and reports why it fails.
                logger.error("python worker failed to start: %s", worker.death().message)

    def _retire(self, worker: WorkerProcess, kill: bool = False) -> None:
        if kill:
            worker.signal(signal.SIGKILL)
        self._track(worker.retire(self.settings.kill_grace_s))

    def _replenish(self) -> None:
        if self._stopping:
            return
        loop = asyncio.get_running_loop()
        for _ in range(self.settings.prestart - len(self._idle) - len(self._warming)):
            task = loop.create_task(self._spawn_quietly())
            self._warming.append(task)
            task.add_done_callback(self._warmed)

    async def _spawn_quietly(self) -> WorkerProcess | None:
        try:
            return await self._spawn()
        except OSError as exc:
            logger.error("cannot start a python worker: %s", exc)
            return None

    def _warmed(self, task: asyncio.Task[WorkerProcess | None]) -> None:
        if task in self._warming:  # nobody claimed it: it joins the idle workers
            self._warming.remove(task)
            self._adopt(task)

    def _adopt(self, task: asyncio.Task[WorkerProcess | None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            logger.error("cannot start a python worker: %s", exc)
            return
        worker = task.result()
        if worker is None or not worker.alive:
            return
        if self._stopping or len(self._idle) >= self.max_idle:
            self._retire(worker)
        else:
            self._idle.append(worker)

    def _track(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
