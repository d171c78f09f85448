"""The event bus: what was written reaches the subscriptions that want it.

Storage announces every run write, log append and journal append once it is stored
(``seqd.storage.traced``); other parts publish on topics of their own (alerts,
schedules: ``topic`` and ``publish``). The bus routes each to the subscriptions whose
scope may hold it — by run id, by tree root, or to those that watch every run — and
each subscription decides the rest. With no subscription a publication costs one
check (and, for run writes, keeping the table of unfinished runs below).

Run writes carry their change position: ``head`` is the highest one seen, where a
subscription that starts live stands. Log and journal appends carry the run id only;
the bus keeps the task and tree of every unfinished run (from the run writes, and the
unfinished runs recovery reads) to route them to tree subscriptions and to name the
task. Topics without storage keep their latest events in memory (``topic_backlog``)
for cursors to replay, numbered per daemon instance (``epoch``).
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from seqd.events.published import LinesWritten, Published, RunWritten, TopicPublished
from seqd.events.subscription import Subscription
from seqd.model.events import LogEvent, RunEvent, StepEvent, TopicEvent
from seqd.model.runs import LogLine, NewLogLine, NewStep, Run, Step
from seqd.model.status import TERMINAL


class TopicLog:
    """An in-memory topic: its numbering and its latest events."""

    def __init__(self, name: str, description: str, backlog: int) -> None:
        self.name = name
        self.description = description
        self.seq = 0
        self.recent: deque[TopicPublished] = deque(maxlen=backlog)


class EventBus:
    def __init__(self, topic_backlog: int = 1000) -> None:
        self.epoch = secrets.token_hex(4)
        self.head = 0
        """The highest change position of a run write announced (or stored at start)."""
        self.topic_backlog = topic_backlog
        self.topics: dict[str, TopicLog] = {}
        self._unfinished: dict[str, tuple[str, str | None]] = {}
        """Run id → (task, root id) of the runs not yet ended."""
        self._count = 0
        self._by_run: dict[str, set[Subscription]] = {}
        self._by_root: dict[str, set[Subscription]] = {}
        self._every_run: set[Subscription] = set()
        self._by_topic: dict[str, set[Subscription]] = {}
        self.ordered: Callable[[], None] | None = None
        """Set on a shared store (``seqd.events.feed``): run writes reach subscribers only
        through ``feed_run``, in position order with other nodes' writes; one stored here
        only wakes the feed."""
        self.on_subscribe: Callable[[], None] | None = None
        """Told when a subscription is added (the feed starts following from ``head``)."""

    # -- subscriptions -------------------------------------------------------------------

    @property
    def subscriptions(self) -> int:
        return self._count

    def add(self, sub: Subscription) -> None:
        """Route publications to ``sub`` from now on (until it ends)."""
        for table, key in self._places(sub):
            if key is None:
                self._every_run.add(sub)
            else:
                table.setdefault(key, set()).add(sub)
        self._count += 1
        sub.on_end(self._remove)
        if self.on_subscribe is not None:
            self.on_subscribe()

    def _remove(self, sub: Subscription) -> None:
        for table, key in self._places(sub):
            if key is None:
                self._every_run.discard(sub)
                continue
            subs = table.get(key)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del table[key]
        self._count -= 1

    def _places(self, sub: Subscription) -> list[tuple[dict[str, set[Subscription]], str | None]]:
        scope = sub.scope
        places: list[tuple[dict[str, set[Subscription]], str | None]] = [
            (self._by_topic, topic) for topic in scope.topics if topic in self.topics
        ]
        if scope.run_id is not None:
            places.append((self._by_run, scope.run_id))
        elif scope.root_id is not None:
            places.append((self._by_root, scope.root_id))
        elif scope.runs:
            places.append((self._by_run, None))
        return places

    @property
    def follows_runs(self) -> bool:
        """Whether a subscription wants run, log or step events (not only topics)."""
        return bool(self._every_run or self._by_run or self._by_root)

    def unfinished_in(self, root_id: str | None, run_id: str | None) -> list[str]:
        """The unfinished runs of a tree (or the one run), as the bus knows them now."""
        if run_id is not None:
            return [run_id] if run_id in self._unfinished else []
        return [rid for rid, (_, root) in self._unfinished.items() if root == root_id]

    def close(self, reason: str) -> None:
        """End every subscription with a ``cut`` event (the daemon stops)."""
        subs = set(self._every_run)
        for table in (self._by_run, self._by_root, self._by_topic):
            for group in table.values():
                subs.update(group)
        for sub in subs:
            sub.cut(reason)

    # -- what storage announces ------------------------------------------------------------

    def known(self, runs: Iterable[Run]) -> None:
        """Runs read from storage that may log before their next write (recovery)."""
        for run in runs:
            if run.status not in TERMINAL:
                self._unfinished[run.id] = (run.task, run.root_id)

    def run_written(self, position: int, run: Run) -> None:
        if self.ordered is None:
            self.feed_run(position, run)
            return
        if position > self.head:
            self.head = position
        self._track(run)
        if self._count:
            self.ordered()

    def _track(self, run: Run) -> None:
        if run.status in TERMINAL:
            self._unfinished.pop(run.id, None)
        else:
            self._unfinished[run.id] = (run.task, run.root_id)

    def feed_run(self, position: int, run: Run) -> None:
        """A run write, to the subscriptions whose scope may hold it: as storage
        announces it, or (``ordered``) as the feed reads it, in position order."""
        if position > self.head:
            self.head = position
        self._track(run)
        if not self._count:
            return
        targets = self._every_run.union(
            self._by_run.get(run.id, ()), self._by_root.get(run.root_id or run.id, ())
        )
        if targets:
            self._send(targets, RunWritten(RunEvent(run=run), position))

    def logs_written(self, run_id: str, last: int, lines: Sequence[NewLogLine]) -> None:
        if self._count and lines:
            self._seq_written(run_id, last, lines, _log_event)

    def steps_written(self, run_id: str, last: int, steps: Sequence[NewStep]) -> None:
        if self._count and steps:
            self._seq_written(run_id, last, steps, _step_event)

    def _seq_written(
        self,
        run_id: str,
        last: int,
        entries: Sequence[Any],
        event: Callable[[str, str | None, str | None, int, Sequence[Any]], LogEvent | StepEvent],
    ) -> None:
        """Entries appended to a run's log or journal, numbered up to ``last``."""
        targets = self._seq_targets(run_id)
        if targets:
            task, root = self._unfinished.get(run_id, (None, None))
            first = last - len(entries) + 1
            self._send(targets, LinesWritten(event(run_id, task, root, first, entries)))

    def lines_read(self, event: LogEvent | StepEvent) -> None:
        """Lines or journal entries read from storage (``seqd.events.feed``: those of a
        run executing on another node), numbered; subscribers skip what they had."""
        targets = self._seq_targets(event.run_id)
        if targets and (event.lines if isinstance(event, LogEvent) else event.steps):
            self._send(targets, LinesWritten(event))

    def followed(self) -> dict[str, tuple[int, int]]:
        """Unfinished runs some subscription wants the lines or journal of, each with
        the last log and journal seq every such subscription has (the lowest)."""
        found: dict[str, tuple[int, int]] = {}
        if not (self._by_run or self._by_root):
            return found
        for run_id, (_, root) in self._unfinished.items():
            wanted = self.wanted(run_id, root)
            if wanted is not None:
                found[run_id] = wanted
        return found

    def wanted(self, run_id: str, root_id: str | None) -> tuple[int, int] | None:
        """The last log and journal seq of ``run_id`` (of the tree of ``root_id``) that
        every subscription wanting its lines or journal has; None if none wants them."""
        by_root = self._by_root.get(root_id, ()) if root_id is not None else ()
        subs = [s for s in self._by_run.get(run_id, set()).union(by_root) if s.scope.seqs]
        if not subs:
            return None
        logs = min(sub.state.logs.get(run_id, 0) for sub in subs)
        return logs, min(sub.state.steps.get(run_id, 0) for sub in subs)

    def task_of(self, run_id: str) -> tuple[str | None, str | None]:
        """The task and root of an unfinished run, as the bus knows them."""
        return self._unfinished.get(run_id, (None, None))

    def _seq_targets(self, run_id: str) -> set[Subscription]:
        _, root = self._unfinished.get(run_id, (None, None))
        by_run = self._by_run.get(run_id, set())
        by_root = self._by_root.get(root, ()) if root is not None else ()
        return by_run.union(by_root) if by_root else set(by_run)

    # -- topics other parts publish ------------------------------------------------------

    def topic(self, name: str, description: str) -> None:
        """Make ``name`` a topic clients may subscribe to (before they do)."""
        if name in ("run", "log", "step") or name in self.topics:
            raise ValueError(f"event topic {name!r} exists already")
        self.topics[name] = TopicLog(name, description, self.topic_backlog)

    def publish(self, topic: str, data: Any) -> None:
        """Send ``data`` (anything msgspec encodes) to the subscribers of ``topic``."""
        log = self.topics[topic]
        log.seq += 1
        pub = TopicPublished(TopicEvent(topic=topic, data=data), log.seq)
        log.recent.append(pub)
        targets = self._by_topic.get(topic)
        if targets:
            self._send(set(targets), pub)

    @staticmethod
    def _send(targets: set[Subscription], pub: Published) -> None:
        for sub in targets:
            sub.offer(pub)


def _log_event(
    run_id: str, task: str | None, root: str | None, first: int, lines: Sequence[NewLogLine]
) -> LogEvent:
    numbered = [
        LogLine(seq=first + i, ts=line.ts, stream=line.stream, text=line.text)
        for i, line in enumerate(lines)
    ]
    return LogEvent(run_id=run_id, task=task, root_id=root, lines=numbered)


def _step_event(
    run_id: str, task: str | None, root: str | None, first: int, steps: Sequence[NewStep]
) -> StepEvent:
    numbered = [
        Step(seq=first + i, ts=s.ts, kind=s.kind, key=s.key, name=s.name, status=s.status,
             data=s.data)
        for i, s in enumerate(steps)
    ]  # fmt: skip
    return StepEvent(run_id=run_id, task=task, root_id=root, steps=numbered)
