"""Replay: from a cursor to now, out of storage, then live.

Its own module because this is the one path from storage to a subscription, run as a
task per subscription while the bus holds what happens meanwhile. It also decides
where a subscription without ``since`` starts: live (the runs it follows at their
current last line), or with each run's last ``tail`` lines, or from a time.

Order of a replay, for a cursor (runs position P, open runs with their last seqs):
first the lines of the runs the cursor names after their seqs; then every run of the
scope written after P, in position order, each with its lines after what was
delivered (lines first, so that a run's end comes after its last line, as live).
Runs absent from the cursor and last written at or before P ended with every line
delivered: they are skipped. Reads go a page at a time, each after the client took
most of what was sent before (``Subscription.room``): a replay is paced by its client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from seqd.errors import SeqdError
from seqd.events.bus import EventBus
from seqd.events.cursor import CursorState
from seqd.events.published import LinesWritten, TopicPublished
from seqd.events.scope import Scope
from seqd.events.subscription import Subscription
from seqd.model.events import LogEvent, StepEvent
from seqd.model.runs import Run
from seqd.model.status import TERMINAL
from seqd.plugins.storage import StorageBackend

logger = logging.getLogger(__name__)

PAGE = 500
"""Runs, log lines or journal entries read from storage at a time."""


# -- where a subscription without a cursor starts ---------------------------------------


async def starting_point(
    storage: StorageBackend,
    bus: EventBus,
    scope: Scope,
    tail: int | None = None,
    from_time: str | None = None,
) -> CursorState:
    """The cursor of a new subscription: live from now, or (``tail``, ``from_time``)
    with some of the log lines already written. Called once the subscription is on
    the bus, so that nothing written from here on is lost. With ``tail`` or
    ``from_time`` the replay also gives each run of the scope as it is now (its run
    event, after its lines)."""
    selected = tail is not None or from_time is not None
    state = CursorState(runs=0 if selected else bus.head, epoch=bus.epoch)
    for topic in scope.topics:
        log = bus.topics.get(topic)
        if log is not None:
            state.topics[topic] = log.seq
    if not scope.seqs:
        return state
    if selected:
        runs = [run.id for run in await members(storage, scope)]
    else:
        runs = bus.unfinished_in(scope.root_id, scope.run_id)
        if scope.run_id is not None and not runs:  # maybe a run executing on another node
            run = await storage.get_run(scope.run_id)
            if run is not None and run.status not in TERMINAL:
                bus.known([run])
                runs = [run.id]
    for run_id in runs:
        last_log = await storage.last_log_seq(run_id) if scope.logs else 0
        if scope.logs:
            state.logs[run_id] = await _log_start(storage, run_id, last_log, tail, from_time)
        if scope.steps:
            state.steps[run_id] = await storage.last_step_seq(run_id)
    return state


async def members(storage: StorageBackend, scope: Scope) -> list[Run]:
    """Every run of the scope's tree (or its one run), as stored now."""
    if scope.run_id is not None:
        run = await storage.get_run(scope.run_id)
        return [run] if run is not None else []
    found: list[Run] = []
    after = 0
    while True:
        page = await storage.run_changes(after, PAGE, root_id=scope.root_id)
        if not page:
            return found
        found.extend(change.run for change in page)
        after = page[-1].position


async def _log_start(
    storage: StorageBackend, run_id: str, last: int, tail: int | None, from_time: str | None
) -> int:
    """The seq after which a new subscription's lines of ``run_id`` begin: the last
    ``tail`` lines, of those written at or after ``from_time`` when both are given."""
    start = 0 if tail is None else max(0, last - tail)
    if from_time is not None:
        start = max(start, await _first_at(storage, run_id, last, from_time) - 1)
    return start


async def _first_at(storage: StorageBackend, run_id: str, last: int, ts: str) -> int:
    """The seq of the run's first line stamped ``ts`` or later (``last + 1`` if none):
    a binary search, one line read per step (stamps grow with seq)."""
    low, high = 1, last + 1
    while low < high:
        middle = (low + high) // 2
        line = await storage.read_logs(run_id, middle - 1, 1)
        if line and line[0].ts < ts:
            low = middle + 1
        else:
            high = middle
    return low


# -- replaying --------------------------------------------------------------------------


async def follow(sub: Subscription, storage: StorageBackend, bus: EventBus) -> None:
    """The task of a new subscription: its replay, then live. A replay that fails
    (storage unavailable) cuts the subscription: its cursor says where to resume."""
    try:
        await replay(sub, storage, bus)
    except asyncio.CancelledError:
        raise
    except SeqdError as exc:
        logger.warning("subscription %s: replay failed: %s", sub.id, exc.message)
        sub.cut("error")
    except Exception:
        logger.exception("subscription %s: replay failed", sub.id)
        sub.cut("error")


async def replay(sub: Subscription, storage: StorageBackend, bus: EventBus) -> None:
    """Bring ``sub`` from its cursor to now, then live (the ``live`` event)."""
    missed = _topics(sub, bus)
    scope, state = sub.scope, sub.state
    if scope.seqs:
        for run_id in sorted({*state.logs, *state.steps}):
            run = await storage.get_run(run_id)
            if run is None or not scope.holds(run.id, run.root_id, run.task):
                state.logs.pop(run_id, None)  # not this scope's (a cursor of another)
                state.steps.pop(run_id, None)
                continue
            await _lines(sub, storage, run)
            if run.status in TERMINAL:
                sub.run_ended(run.id)
    if scope.runs or scope.seqs:
        await _changes(sub, storage)
    if not sub.ended:
        sub.go_live(missed)


async def _changes(sub: Subscription, storage: StorageBackend) -> None:
    """Every run of the scope written after the cursor's position, with its lines."""
    scope, state = sub.scope, sub.state
    root = scope.root_id
    if scope.run_id is not None:  # the one run's tree, of which only it is shown
        run = await storage.get_run(scope.run_id)
        if run is None:
            return
        root = run.root_id or run.id
    after = state.runs
    while not sub.ended:
        page = await storage.run_changes(after, PAGE, root_id=root)
        if not page:
            return
        for change in page:
            run = change.run
            if scope.seqs and scope.holds(run.id, run.root_id, run.task):
                await _lines(sub, storage, run)
            sub.run_written(change.position, run)
            await sub.room()
        after = page[-1].position


async def _lines(sub: Subscription, storage: StorageBackend, run: Run) -> None:
    """The run's log lines and journal entries after what ``sub`` has delivered."""
    if sub.done_in_replay(run.id):
        return
    if sub.scope.logs:
        await _seq(sub, run, sub.state.logs, storage.read_logs, _log_event)
    if sub.scope.steps:
        await _seq(sub, run, sub.state.steps, storage.read_steps, _step_event)


async def _seq(
    sub: Subscription,
    run: Run,
    delivered: dict[str, int],
    read: Callable[[str, int, int], Awaitable[Sequence[Any]]],
    event: Callable[[Run, Any], LogEvent | StepEvent],
) -> None:
    """Entries of one of the run's seq files (log, journal) after those delivered, a
    page at a time, each page once the client took most of the one before."""
    after = delivered.get(run.id, 0)
    while not sub.ended:
        entries = await read(run.id, after, PAGE)
        if not entries:
            return
        sub.lines_written(LinesWritten(event(run, entries)))
        after = entries[-1].seq
        await sub.room()


def _log_event(run: Run, lines: Any) -> LogEvent:
    return LogEvent(run_id=run.id, task=run.task, root_id=run.root_id, lines=lines)


def _step_event(run: Run, steps: Any) -> StepEvent:
    return StepEvent(run_id=run.id, task=run.task, root_id=run.root_id, steps=steps)


def _topics(sub: Subscription, bus: EventBus) -> list[str]:
    """Replay the in-memory topics from what the bus still holds; the topics of which
    some events since the cursor are gone."""
    state = sub.state
    same_daemon = state.epoch == bus.epoch
    missed: list[str] = []
    for topic in sub.scope.topics:
        log = bus.topics.get(topic)
        if log is None:
            continue
        last = state.topics.get(topic, 0) if same_daemon else 0
        first_kept = log.recent[0].seq if log.recent else log.seq + 1
        if last < log.seq and last + 1 < first_kept:
            missed.append(topic)
        if not same_daemon:
            state.topics[topic] = 0
        recent: list[TopicPublished] = [pub for pub in log.recent if pub.seq > last]
        for pub in recent:
            sub.topic_published(pub)
    state.epoch = bus.epoch
    return missed
