"""Suspended runs: storing a run whose task type suspended it (a durable sleep, or
waiting for a child run or a signal), arranging its wake-up, waking it (back in the
queue), and delivering signals.

Its own module because a suspended run has left execution: it holds no worker and no
task, and what brings it back (a timer, another run ending, a signal, a restart) comes
from outside any execution.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from msgspec.structs import replace

from seqd.access.policy import Policy, Principal
from seqd.config.settings import Limits
from seqd.errors import Conflict, Suspended
from seqd.model import timeutil
from seqd.model.ids import IdGenerator
from seqd.model.runs import NewStep, Run
from seqd.model.status import TERMINAL
from seqd.plugins.storage import StorageBackend

from .transitions import Measured, Transitions
from .validation import check_size
from .wakeups import Wakeups

logger = logging.getLogger(__name__)


class Suspensions:
    def __init__(
        self,
        *,
        storage: StorageBackend,
        transitions: Transitions,
        hand_off: Callable[[Run], None],
        get: Callable[[str], Awaitable[Run]],
        ids: IdGenerator,
        limits: Limits,
        access: Policy,
        owns: Callable[[str], bool] | None = None,
        forward: Callable[[str, str], None] | None = None,
    ) -> None:
        self._storage = storage
        self._access = access
        self._transitions = transitions
        self._hand_off = hand_off
        """``hand_off(run)``: puts a queued run in line and starts what can start."""
        self._get = get
        """``get(run_id)``: the run, live or stored (``NotFound`` if there is none)."""
        self._ids = ids
        self._limits = limits
        self._owns = owns
        """With a shared store, ``owns(run_id)``: whether this node holds the run; only
        the holder wakes it (None: single node, every run is this daemon's)."""
        self._forward = forward
        """``forward(run_id, name)``: a signal for a run another node holds goes there."""
        self.wakeups = Wakeups(self.wake_soon)
        self._wakings: set[asyncio.Task[None]] = set()
        self._stopped = False

    async def suspend(self, run: Run, why: Suspended, job: Measured) -> None:
        """The running ``run``'s task type raised ``why``: store it as suspended and
        watch for what wakes it."""
        suspended = replace(
            run,
            status="suspended",
            pid=None,
            wake_at=timeutil.format_ts(why.wake_at) if why.wake_at is not None else None,
            waiting_for=why.waiting_for,
            resources=job.resources,
            running_s=job.running_s,
        )
        if not await self._transitions.store(suspended, ("running",)):
            return
        self._transitions.live.pop(run.id, None)
        self._transitions.emit(suspended, "running", "suspended")
        self.watch(suspended)

    def watch(self, run: Run, recovering: bool = False) -> None:
        """Arrange for a suspended run to wake when it is due."""
        if run.wake_at is not None:
            self.wakeups.at(run.id, timeutil.parse_ts(run.wake_at))
        waiting = run.waiting_for or ""
        if waiting.startswith("run:"):
            child = waiting[4:]
            self.wakeups.on_run[child].add(run.id)
            if child not in self._transitions.live:  # it may have ended already
                self._spawn(self._wake_if_ended(run.id, child))
        elif waiting.startswith("signal:"):
            name = waiting[7:]
            if name in self.wakeups.signalled.pop(run.id, set()):
                self.wake_soon(run.id, f"signal {name!r} arrived")
            elif recovering:
                self._spawn(self._wake_if_signalled(run.id, name))
        elif run.wake_at is None:
            logger.error("run %s is suspended with nothing to wake it; waking it", run.id)
            self.wake_soon(run.id, "nothing to wait for")

    async def _wake_if_ended(self, run_id: str, child_id: str) -> None:
        child = await self._storage.get_run(child_id)
        if child is None or child.status in TERMINAL:
            self.wakeups.on_run.pop(child_id, None)
            await self.wake(run_id, f"run {child_id} ended")

    async def _wake_if_signalled(self, run_id: str, name: str) -> None:
        """After a restart: wake a run if a signal it waits for arrived after its last
        receipt of one (the replay decides whether it is new to it)."""
        arrived = received = 0
        after = 0
        while True:
            steps = await self._storage.read_steps(run_id, after, 1000)
            for step in steps:
                if step.name == name and step.kind == "signal_in":
                    arrived = step.seq
                elif step.name == name and step.kind == "signal" and step.status == "received":
                    received = step.seq
            if len(steps) < 1000:
                break
            after = steps[-1].seq
        if arrived > received:
            await self.wake(run_id, f"signal {name!r} arrived")

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._wakings.add(task)
        task.add_done_callback(self._wakings.discard)

    def wake_soon(self, run_id: str, why: str) -> None:
        self._spawn(self.wake(run_id, why))

    async def wake(self, run_id: str, why: str) -> None:
        if self._stopped:
            return  # shutting down: the next start watches it again
        if self._owns is not None and not self._owns(run_id):
            return  # taken over by another node, which watches it now
        stored = await self._storage.get_run(run_id)
        if stored is None or stored.status != "suspended":
            return
        again = replace(stored, status="queued", wake_at=None, waiting_for=None, pid=None)
        if not await self._transitions.store(again, ("suspended",)):
            return
        self._transitions.live[run_id] = again
        self._transitions.emit(again, "suspended", f"woken: {why}")
        self._hand_off(again)

    async def signal(self, run_id: str, name: str, data: Any, who: Principal) -> Run:
        """Deliver a signal: durable in the run's journal first, then wake the run if it
        waits for it."""
        run = await self._get(run_id)
        self._access.check_manage(who, run, "signal")
        if run.status in TERMINAL:
            raise Conflict(
                f"run {run_id} has ended ({run.status}); it takes no signals",
                {"id": run_id, "status": run.status},
            )
        check_size("data", data, self._limits.max_input_bytes)
        self._transitions.spans.journaled(run_id)
        await self._storage.append_steps(
            run_id,
            [
                NewStep(
                    ts=timeutil.now(),
                    kind="signal_in",
                    key=f"signal_in:{name}:{self._ids.new()}",
                    name=name,
                    status="received",
                    data={"payload": data, "uid": who.uid},
                )
            ],
        )
        if self._owns is not None and not self._owns(run_id) and self._forward is not None:
            self._forward(run_id, name)
            return await self._get(run_id)
        return await self.deliver(run_id, name)

    async def deliver(self, run_id: str, name: str) -> Run:
        """A signal ``name`` is in the journal of ``run_id``, a run this node holds:
        wake the run if it waits for it."""
        current = self._transitions.live.get(run_id)
        if current is not None:  # queued or running: it will find it, or suspend for it
            self.wakeups.signalled[run_id].add(name)
            return current
        stored = await self._get(run_id)
        if stored.status == "suspended" and stored.waiting_for == f"signal:{name}":
            await self.wake(run_id, f"signal {name!r} arrived")
            return await self._get(run_id)
        return stored

    def stop(self) -> None:
        """Shutdown: no more wake-ups (the next start watches suspended runs again)."""
        self._stopped = True
        self.wakeups.stop()
