"""The engine as one node of a shared store (``seqd.plugins.storage.SharedQueue``).

With a shared store, a run accepted here is not queued in this daemon's memory: it is
stored queued, every node is told, and the nodes with free slots claim it, so it runs
once, on one of them. This module is that loop — claim for the free slots whenever a
note (or a slot freed here) says there may be work, and at least every ``poll_s`` as a
safety net — and the handling of the notes other nodes send: a run ended (wake who
waits for it here), a cancel or a signal for a run held here, a dead node (take its
runs over through the recovery a restart does), and this node's own lost lease.

Its own module because the engine's single-node path stays exactly as it was: the
engine calls in here only when its storage is shared.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from seqd import __version__
from seqd.events.bus import EventBus
from seqd.events.feed import Feed
from seqd.model import timeutil
from seqd.model.nodes import NodeInfo, Note
from seqd.model.runs import Run
from seqd.model.status import TERMINAL
from seqd.plugins.storage import SharedQueue

from .cluster_counts import ClusterCounts

if TYPE_CHECKING:
    from .engine import Engine

logger = logging.getLogger(__name__)

POLL_S = 2.0
"""The safety net: a claim, and a read of the runs waited for here that run elsewhere,
at least this often, whatever the notes said (a note is lost while the listening
connection is down). Dead nodes are reported by the heartbeat, which reads them."""


def node_info(name: str, workers: int) -> NodeInfo:
    """A new node for this process: its id is unique per start (``<name>-<pid>-<hex>``),
    so that a restarted daemon never mistakes its earlier life's leases for its own."""
    return NodeInfo(
        id=f"{name}-{os.getpid()}-{secrets.token_hex(3)}",
        name=name,
        host=socket.gethostname(),
        pid=os.getpid(),
        version=__version__,
        started_at=timeutil.now(),
        workers=workers,
    )


class ClusterLink:
    def __init__(
        self,
        engine: Engine,
        shared: SharedQueue,
        events: EventBus | None = None,
        poll_s: float = POLL_S,
    ) -> None:
        self.engine = engine
        self.shared = shared
        self.feed = Feed(events, shared, engine.storage) if events is not None else None
        """Other nodes' run writes, to this node's subscribers."""
        self.poll_s = poll_s
        self._wake = asyncio.Event()
        self._dead = True  # at start: runs of this node's earlier life, or of dead nodes
        self._poll = False
        self._maybe_queued = True
        """Unheld queued runs may exist: a slot freed here claims only then (a claim
        that finds nothing is a round trip and a commit for nothing)."""
        self._task: asyncio.Task[None] | None = None
        self._notes: set[asyncio.Task[None]] = set()
        self.counts = ClusterCounts(engine.storage, lambda: engine.metrics.counts)
        """The runs of every node by status (``daemon.status``)."""

    def owns(self, run_id: str) -> bool:
        """Whether this node holds ``run_id`` (only the holder wakes or starts it)."""
        return self.shared.holds(run_id)

    async def start(self, info: NodeInfo) -> None:
        if self.feed is not None:
            self.feed.start()
        self.shared.offer(self._room_for)
        await self.shared.join(info, self.on_note)
        await self._round()  # before serving: take over and claim once
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="seqd-claims")

    async def stop(self) -> None:
        """Shutdown (after the engine's grace period): leave the cluster, so that runs
        not finished here go to other nodes now."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self.feed is not None:
            await self.feed.stop()
        try:
            await self.shared.leave()
        except Exception as exc:
            logger.warning("leaving the cluster failed (the lease runs out instead): %s", exc)

    def kick(self) -> None:
        """There may be room for work: claim soon, if there may be work."""
        self._wake.set()

    def queued(self) -> None:
        """Unheld runs were queued (here, or on another node): claim soon."""
        self._maybe_queued = True
        self._wake.set()

    # -- claiming ----------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self.poll_s):
                    await self._wake.wait()
            except TimeoutError:
                self._poll = self._maybe_queued = True  # dead nodes: the heartbeat says
            self._wake.clear()
            try:
                await self._round()
                if self._poll:
                    self._poll = False
                    await self._check_waits()
            except Exception as exc:
                self._dead = self._maybe_queued = True  # a claim may have committed: look again
                logger.warning("claiming runs failed: %s", exc)
                await asyncio.sleep(min(1.0, self.poll_s))

    async def _round(self) -> None:
        engine = self.engine
        if not engine.dispatching:
            return
        if self._dead:
            self._dead = False
            taken = await self.shared.take_over()
            if taken:
                await engine.recover_runs(taken)
        room = self._room()
        if room > 0 and self._maybe_queued:
            runs = await self.shared.claim(room, self._limits())
            if runs:
                self._adopt(runs)
            if len(runs) == room:
                self._wake.set()  # there may be more waiting
            else:
                self._maybe_queued = False

    def _room_for(self, task: str) -> int:
        """Room for a new run of ``task`` to be held here at once: none for a task with
        a concurrency limit (it is claimed under the cluster-wide count)."""
        return 0 if task in self._limits() else self._room()

    def _room(self) -> int:
        """Free worker slots: claims are made for them only (a run claimed here while
        another node is idle would wait for nothing). Flows hold no slot."""
        return self.engine.max_workers - len(self.engine.holding) - len(self.engine.queue)

    def _limits(self) -> dict[str, int]:
        """Tasks with a concurrency limit: it holds across the cluster."""
        return {
            name: entry.definition.concurrency
            for name, entry in self.engine.catalog.entries.items()
            if entry.definition.concurrency is not None
        }

    def _adopt(self, runs: list[Run]) -> None:
        """Claimed runs join this node's line (they were counted where accepted)."""
        engine = self.engine
        for run in runs:
            if run.status != "queued" or run.id in engine.transitions.live:
                continue
            engine.transitions.live[run.id] = run
            engine.enqueue(run)
        engine.schedule()

    async def _check_waits(self) -> None:
        """The safety net of ``ended`` notes (lost while a listener was down, or not
        sent while this node was alone): runs waited for here that run elsewhere are
        read, and their waiters woken if they have ended."""
        engine = self.engine
        for run_id in engine.waited_for():
            if run_id not in engine.transitions.live:
                await self.ended_elsewhere(run_id)

    def lost_leases(self) -> None:
        """Other nodes took this node's runs over: stop them here, without a write (the
        writes would be refused anyway), and forget the rest."""
        engine = self.engine
        for run_id in list(engine.active):
            engine.executor.interrupt(
                run_id, "shutdown", "this node lost its lease; the run goes on on another node"
            )
        for run_id in list(engine.transitions.live):
            if run_id not in engine.active:
                engine.take_back(run_id)
                engine.transitions.live.pop(run_id, None)
        self.queued()

    async def ended_elsewhere(self, run_id: str) -> None:
        """A run ended on another node: wake who waits for it here; a copy of it
        queued here (it was cancelled before it started) leaves the line."""
        engine = self.engine
        if run_id in engine.transitions.live and run_id not in engine.active:
            engine.take_back(run_id)
            engine.transitions.live.pop(run_id, None)
            self.shared.release(run_id)
        if engine.waits_for(run_id):
            final = await engine.storage.get_run(run_id)
            if final is not None and final.status in TERMINAL:
                engine.woken(final)

    # -- notes -------------------------------------------------------------------------

    def on_note(self, note: Note) -> None:
        if self.feed is not None:  # another node wrote a run: its subscribers here learn
            self.feed.wake()
        if note.kind == "queued":
            self.queued()
        elif note.kind == "dead":
            self._dead = True
            self.queued()
        elif note.kind == "lost":
            self.lost_leases()
        elif note.kind == "cancel" and note.run_id in self.engine.active:
            self.engine.executor.interrupt(note.run_id, "cancelled", note.text)
        else:
            self._spawn(self._run_note(note))

    async def _run_note(self, note: Note) -> None:
        engine = self.engine
        if note.kind == "ended":
            if note.text in self._limits():
                self.queued()  # a place under the task's cluster-wide limit came free
            await self.ended_elsewhere(note.run_id)
        elif note.kind == "signal" and self.owns(note.run_id):
            await engine.suspensions.deliver(note.run_id, note.text)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._notes.add(task)
        task.add_done_callback(self._noted)

    def _noted(self, task: asyncio.Task[None]) -> None:
        self._notes.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("handling a note from another node failed: %s", task.exception())

    def tell(self, note: Note) -> None:
        """Send a note to every node, without waiting (it rides the next group commit)."""
        self._spawn(self.shared.notify(note))

    def ended(self, final: Run) -> None:
        """A run ended here: its lease is let go, and the nodes waiting for it hear."""
        self.shared.release(final.id)
        if final.status in TERMINAL and self.shared.nodes_alive > 1:
            self.tell(Note(kind="ended", run_id=final.id, text=final.task))
