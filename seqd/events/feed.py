"""The change feed of a shared store: other nodes' writes reach this node's subscribers.

On a store several nodes share, a run may be written by any of them, so storage's
announcements (``seqd.storage.traced``) tell this node's bus of its own writes only.
The feed reads every node's run writes from the store (``SharedQueue.transitions``)
after the position it has handed on, in position order — which is commit order, so
reading "after P" never skips a write that commits later — and gives them to the bus as
if they were written here (``EventBus.feed_run``). The bus is then ``ordered``: a write
of this node wakes the feed rather than going to subscribers at once, so that every
subscriber sees run events in position order and a cursor never passes a write it
has not seen. Log lines and journal entries of runs executing elsewhere have no
position: while a subscription wants them, the feed reads each such run's new ones at
every round, and before handing on a write of that run (its lines come first, as live).

It runs only while someone subscribes to runs, lines or steps: it is woken by this
node's writes, by every note other nodes send (a run queued or ended), and every
``poll_s`` (a run that started elsewhere sends no note). With no such subscription
it reads nothing, and it starts again from the bus's ``head`` as of the subscription
that wakes it, where that subscription starts too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from seqd.events.bus import EventBus
from seqd.model.events import LogEvent, StepEvent
from seqd.model.runs import Run
from seqd.plugins.storage import SharedQueue, StorageBackend

logger = logging.getLogger(__name__)

POLL_S = 0.25
"""How often the feed reads while someone subscribes, whatever woke it or not."""
PAGE = 500
"""Run writes, lines or entries read at a time."""
RETRY_S = 1.0
"""The pause after a failed read (the store is unavailable) before the next."""


class Feed:
    def __init__(
        self, bus: EventBus, shared: SharedQueue, storage: StorageBackend, poll_s: float = POLL_S
    ) -> None:
        self.bus = bus
        self.shared = shared
        self.storage = storage
        self.poll_s = poll_s
        self.position: int | None = None
        """The last change position handed to the bus; None while nobody subscribes."""
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.bus.ordered = self.wake
        self.bus.on_subscribe = self._subscribed
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="seqd-feed")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def wake(self) -> None:
        self._wake.set()

    def _subscribed(self) -> None:
        """A subscription was added: the feed follows from ``head`` if it was idle (the
        new subscription starts there or later, so nothing it needs is before it)."""
        if self.position is None:
            self.position = self.bus.head
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            if self.bus.follows_runs:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_s):
                        await self._wake.wait()
            else:  # nobody, or topics only (alerts, schedules): nothing to read
                self.position = None
                await self._wake.wait()
            self._wake.clear()
            if not self.bus.follows_runs:
                self.position = None
                continue
            try:
                await self.round()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # storage unavailable: the next round goes on from here
                logger.warning("the change feed could not read the store: %s", exc)
                await asyncio.sleep(RETRY_S)

    async def round(self) -> None:
        """Hand the bus every run write after ``position``, then the new lines of the
        runs followed that execute elsewhere."""
        if self.position is None:
            self.position = self.bus.head
        while True:
            changes = await self.shared.transitions(self.position, PAGE)
            for change in changes:
                if not self.shared.holds(change.run.id):
                    await self._lines(change.run.id, change.run)
                self.bus.feed_run(change.position, change.run)
                self.position = change.position
            if len(changes) < PAGE:
                break
        for run_id in list(self.bus.followed()):
            if not self.shared.holds(run_id):
                await self._lines(run_id, None)

    async def _lines(self, run_id: str, run: Run | None) -> None:
        """The run's log lines and journal entries after what every subscription that
        wants them has (nothing if none does)."""
        task, root = (run.task, run.root_id) if run is not None else self.bus.task_of(run_id)
        wanted = self.bus.wanted(run_id, root)
        if wanted is None:
            return
        logs, steps = wanted
        while lines := await self.storage.read_logs(run_id, logs, PAGE):
            self.bus.lines_read(LogEvent(run_id=run_id, task=task, root_id=root, lines=lines))
            logs = lines[-1].seq
            if len(lines) < PAGE:
                break
        while entries := await self.storage.read_steps(run_id, steps, PAGE):
            self.bus.lines_read(StepEvent(run_id=run_id, task=task, root_id=root, steps=entries))
            steps = entries[-1].seq
            if len(entries) < PAGE:
                break
