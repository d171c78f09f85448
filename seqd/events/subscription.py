"""One subscription: what it has delivered (its cursor), what waits to be written, and
how it keeps up with the bus or is cut.

Its own module because this is where the promises to a client are kept: each event is
delivered once and in order, also across the seam between the replay from storage and
the live events (publications that arrive while the replay runs are held, then handled
like live ones, skipping what the replay already gave); each event passes the caller's
``view`` (what they may see) before it is written; and the memory a client can make the
daemon hold is bounded. Lines wait in a queue only while the client's connection does
not take them (``Sink.paused``); when the queue outgrows ``Limits``, the subscription
ends with a ``cut`` event carrying the cursor of the last event written, so the client
can resume from exactly there.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from seqd.events import cursor
from seqd.events.cursor import CursorState
from seqd.events.published import LinesWritten, Published, RunWritten, TopicPublished, encode
from seqd.events.scope import Scope
from seqd.model.events import CutEvent, Event, LiveEvent, LogEvent, RunEvent, TopicEvent
from seqd.model.runs import Run
from seqd.model.status import TERMINAL
from seqd.rpc.push import event_line

logger = logging.getLogger(__name__)

AnyEvent = Event | TopicEvent
View = Callable[[AnyEvent], AnyEvent | None]
"""What one caller may see of an event: the event, a reduced copy, or None."""


class Sink(Protocol):
    """Where a subscription writes: its client's connection (``seqd.rpc.push.Push``)."""

    paused: bool
    closed: bool

    def send(self, line: bytes) -> None: ...
    async def writable(self) -> None: ...
    def on_resume(self, callback: Callable[[], None]) -> Callable[[], None]: ...
    def on_close(self, callback: Callable[[], None]) -> Callable[[], None]: ...
    def hold(self) -> Callable[[], None]: ...


@dataclass(frozen=True)
class Limits:
    queue_events: int = 1000
    """Events waiting for a slow client before it is cut."""
    queue_bytes: int = 8 * 1024 * 1024
    """Bytes waiting for a slow client before it is cut."""
    held_events: int = 10_000
    """Live publications kept while the replay runs before the subscription is cut."""


class Subscription:
    def __init__(
        self,
        id: str,
        scope: Scope,
        state: CursorState,
        sink: Sink,
        view: View,
        limits: Limits,
    ) -> None:
        self.id = id
        self.scope = scope
        self.state = state
        self.limits = limits
        self._sink = sink
        self._view = view
        self.live = False
        """False while the replay runs: publications are held until it is done."""
        self.ended = False
        self.sent_cursor = cursor.encode(state)
        """The cursor of the last event written to the connection."""
        self.replay: asyncio.Task[None] | None = None
        self._held: list[Published] = []
        self._done_in_replay: set[str] = set()
        self._queue: deque[tuple[bytes, str]] = deque()
        self._queued_bytes = 0
        self._on_end: list[Callable[[Subscription], None]] = []
        self._release = sink.hold()
        self._forget = [sink.on_resume(self._flush), sink.on_close(self.end)]

    def on_end(self, callback: Callable[[Subscription], None]) -> None:
        self._on_end.append(callback)

    def start_at(self, state: CursorState) -> None:
        """Where it starts (before anything is delivered)."""
        self.state = state
        self.sent_cursor = cursor.encode(state)

    # -- what the replay asks ------------------------------------------------------------

    def run_ended(self, run_id: str) -> None:
        """A run the cursor named has ended and was replayed to its last line."""
        self.state.logs.pop(run_id, None)
        self.state.steps.pop(run_id, None)
        self._done_in_replay.add(run_id)

    def done_in_replay(self, run_id: str) -> bool:
        return run_id in self._done_in_replay

    # -- from the bus ------------------------------------------------------------------

    def offer(self, pub: Published) -> None:
        """A publication routed here: handled now, or held while the replay runs."""
        if self.ended:
            return
        if not self.live:
            self._held.append(pub)
            if len(self._held) > self.limits.held_events:
                self.cut("slow")
            return
        self._handle(pub)

    def go_live(self, missed: list[str]) -> None:
        """The replay is done: say so, then handle what was held meanwhile."""
        self.deliver(LiveEvent(missed=missed))
        held, self._held = self._held, []
        self.live = True
        for pub in held:
            if self.ended:
                return
            self._handle(pub)
        self._done_in_replay.clear()

    def _handle(self, pub: Published) -> None:
        if isinstance(pub, RunWritten):
            self.run_written(pub.position, pub.run, pub)
        elif isinstance(pub, LinesWritten):
            self.lines_written(pub)
        elif isinstance(pub, TopicPublished):
            self.topic_published(pub)

    # -- what the replay and the live path both do -------------------------------------

    def run_written(self, position: int, run: Run, pub: RunWritten | None = None) -> None:
        state, scope = self.state, self.scope
        if position <= state.runs:
            return  # the replay gave this run as it was later
        state.runs = position
        if scope.seqs and scope.holds(run.id, run.root_id, run.task):
            if run.status in TERMINAL:
                # Its lines came before this write: the cursor need not name it again.
                state.logs.pop(run.id, None)
                state.steps.pop(run.id, None)
                if not self.live:
                    self._done_in_replay.add(run.id)
            else:
                if scope.logs:
                    state.logs.setdefault(run.id, 0)
                if scope.steps:
                    state.steps.setdefault(run.id, 0)
        if scope.shows(run):
            self.deliver(pub.event if pub is not None else RunEvent(run=run), pub)

    def lines_written(self, pub: LinesWritten) -> None:
        event = pub.event
        logs = isinstance(event, LogEvent)
        if not (self.scope.logs if logs else self.scope.steps):
            return
        if not self.scope.holds(event.run_id, event.root_id, event.task):
            return
        if event.run_id in self._done_in_replay:
            return  # replayed to its end already
        table = self.state.logs if logs else self.state.steps
        shown = pub.after(table.get(event.run_id, 0))
        if shown is None:
            return
        table[event.run_id] = pub.entries[-1].seq
        self.deliver(shown, pub if shown is event else None)

    def topic_published(self, pub: TopicPublished) -> None:
        topics = self.state.topics
        if pub.seq <= topics.get(pub.event.topic, 0):
            return
        topics[pub.event.topic] = pub.seq
        self.deliver(pub.event, pub)

    def deliver(self, event: AnyEvent, pub: Published | None = None) -> None:
        """Write ``event`` as the caller may see it, with the cursor as it is now."""
        shown = self._view(event)
        if shown is None or self.ended:
            return
        body = pub.body() if pub is not None and shown is pub.event else encode(shown)
        at = cursor.encode(self.state)
        self._out(event_line(self.id, at, body), at)

    # -- writing, keeping up -----------------------------------------------------------

    def _out(self, line: bytes, at: str) -> None:
        if not self._queue and not self._sink.paused:
            self._sink.send(line)
            self.sent_cursor = at
            return
        self._queue.append((line, at))
        self._queued_bytes += len(line)
        limits = self.limits
        if len(self._queue) > limits.queue_events or self._queued_bytes > limits.queue_bytes:
            self.cut("slow")

    def _flush(self) -> None:
        queue = self._queue
        while queue and not self._sink.paused and not self.ended:
            line, at = queue.popleft()
            self._queued_bytes -= len(line)
            self._sink.send(line)
            self.sent_cursor = at

    async def room(self) -> None:
        """Wait until the client has taken most of what waits for it (the replay reads
        storage only as fast as the client reads events)."""
        while not self.ended:
            self._flush()
            if not self._sink.paused and len(self._queue) < self.limits.queue_events // 2:
                return
            await self._sink.writable()

    # -- ending ------------------------------------------------------------------------

    def cut(self, reason: str) -> None:
        """End with a ``cut`` event: what was queued is dropped, and the event's cursor
        is that of the last event written, where the client resumes."""
        if self.ended:
            return
        if reason != "shutdown":
            logger.info(
                "subscription %s cut (%s) with %d events waiting; it resumes from %s",
                self.id, reason, len(self._queue), self.sent_cursor,
            )  # fmt: skip
        self._queue.clear()
        self._queued_bytes = 0
        body = encode(CutEvent(reason=reason))
        self._sink.send(event_line(self.id, self.sent_cursor, body))
        self.end()

    def end(self) -> None:
        """Stop: no event is written after this; the bus and the caller forget it."""
        if self.ended:
            return
        self.ended = True
        self._queue.clear()
        self._held.clear()
        for forget in self._forget:
            forget()
        if self.replay is not None and self.replay is not asyncio.current_task():
            self.replay.cancel()
        callbacks, self._on_end = self._on_end, []
        for callback in callbacks:
            callback(self)
        self._release()
