"""The file store's in-memory run index: what SQLite's indexes do, kept in lists.

Built at open from a scan of every run file and updated on every write (only ever from
the event loop, so it needs no lock). Each filter (task, status, parent, schedule) keeps
a list of run ids sorted ascending; ids sort by creation time, so "newest first after a
cursor" is a bisect and a walk backwards. A query with several filters walks the
shortest list and checks the others against the run's ``RunMeta``. New ids are nearly
always the largest, so an insert is usually an append; a status change moves one id
between two lists.

Cost: about 200 bytes per run (the id string, one ``RunMeta``, a dict slot and three
list slots — four for a run without a parent, which is also in the list of roots;
idempotency keys add their text). See docs/storage-fs.md for the limits.
"""

from __future__ import annotations

import heapq
import logging
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable

import msgspec

from seqd.builtin.storage.fs.changes import ChangeLog
from seqd.model.runs import RunQuery
from seqd.model.status import RUN_STATUSES, UNFINISHED
from seqd.plugins.storage_kit.records import prefix_bounds

logger = logging.getLogger(__name__)

_STATUS: dict[str, str] = {s: s for s in RUN_STATUSES}  # one shared string per status


class RunMeta(msgspec.Struct, frozen=True, gc=False):
    """What the index knows of one run: enough to filter and to find its file."""

    id: str
    task: str
    status: str
    parent_id: str | None = None
    key: str | None = None
    schedule: str | None = None
    change: int = 0
    """The change position of the run file's last write (0: written before seqd had
    them, until the scan at open numbers it)."""


def _insert(ids: list[str], run_id: str) -> None:
    if not ids or ids[-1] < run_id:
        ids.append(run_id)
    else:
        insort(ids, run_id)


def _remove(ids: list[str], run_id: str) -> None:
    i = bisect_left(ids, run_id)
    if i < len(ids) and ids[i] == run_id:
        del ids[i]


class RunIndex:
    def __init__(self) -> None:
        self.meta: dict[str, RunMeta] = {}
        self.keys: dict[str, str] = {}
        """Idempotency key → the id of the run holding it."""
        self._all: list[str] = []
        self._roots: list[str] = []
        """The runs without a parent."""
        self._task: dict[str, list[str]] = {}
        self._status: dict[str, list[str]] = {}
        self._parent: dict[str, list[str]] = {}
        self._schedule: dict[str, list[str]] = {}
        self._names: dict[str, str] = {}
        self.changes = ChangeLog(self.meta)
        """The runs by change position (``run_changes``)."""

    def __len__(self) -> int:
        return len(self.meta)

    def get(self, run_id: str) -> RunMeta | None:
        return self.meta.get(run_id)

    def make(
        self,
        run_id: str,
        task: str,
        status: str,
        parent_id: str | None,
        key: str | None,
        schedule: str | None = None,
        change: int = 0,
    ) -> RunMeta:
        """A ``RunMeta`` sharing string objects with the index where it can."""
        task = self._names.setdefault(task, task)
        if parent_id is not None:
            parent = self.meta.get(parent_id)
            parent_id = parent.id if parent is not None else parent_id
        if schedule is not None:
            schedule = self._names.setdefault(schedule, schedule)
        return RunMeta(run_id, task, _STATUS.get(status, status), parent_id, key, schedule, change)

    def load(self, metas: Iterable[RunMeta]) -> None:
        """Bulk insert (the scan at open): append everything, sort each list once."""
        metas = list(metas)
        self.changes.load(metas)
        for m in metas:
            self.meta[m.id] = m
            self._all.append(m.id)
            self._task.setdefault(m.task, []).append(m.id)
            self._status.setdefault(m.status, []).append(m.id)
            if m.parent_id is not None:
                self._parent.setdefault(m.parent_id, []).append(m.id)
            else:
                self._roots.append(m.id)
            if m.schedule is not None:
                self._schedule.setdefault(m.schedule, []).append(m.id)
            if m.key is not None:
                self.keys.setdefault(m.key, m.id)
        for ids in (self._all, self._roots, *self._task.values(), *self._status.values()):
            ids.sort()
        for ids in (*self._parent.values(), *self._schedule.values()):
            ids.sort()

    def put(self, new: RunMeta) -> None:
        """Insert ``new`` or replace the record with its id."""
        run_id = new.id
        old = self.meta.get(run_id)
        self.meta[run_id] = new
        self.changes.put(new, len(self.meta))
        if old is None:
            _insert(self._all, run_id)
        if old is None or old.task != new.task:
            if old is not None:
                self._drop(self._task, old.task, run_id)
            _insert(self._task.setdefault(new.task, []), run_id)
        if old is None or old.status != new.status:
            if old is not None:
                self._drop(self._status, old.status, run_id)
            _insert(self._status.setdefault(new.status, []), run_id)
        if old is None or old.parent_id != new.parent_id:
            if old is not None and old.parent_id is not None:
                self._drop(self._parent, old.parent_id, run_id)
            elif old is not None:
                _remove(self._roots, run_id)
            if new.parent_id is not None:
                _insert(self._parent.setdefault(new.parent_id, []), run_id)
            else:
                _insert(self._roots, run_id)
        if old is None or old.schedule != new.schedule:
            if old is not None and old.schedule is not None:
                self._drop(self._schedule, old.schedule, run_id)
            if new.schedule is not None:
                _insert(self._schedule.setdefault(new.schedule, []), run_id)
        old_key = old.key if old is not None else None
        if old_key is not None and old_key != new.key and self.keys.get(old_key) == run_id:
            del self.keys[old_key]
        if new.key is not None:
            self.keys[new.key] = run_id

    @staticmethod
    def _drop(lists: dict[str, list[str]], name: str, run_id: str) -> None:
        ids = lists.get(name)
        if ids is not None:
            _remove(ids, run_id)
            if not ids:
                del lists[name]

    def page(self, query: RunQuery) -> tuple[list[RunMeta], str | None]:
        """The runs of one page, newest first, and the cursor of the next page."""
        sources: list[list[str]] = []
        if query.task is not None:
            sources.append(self._task.get(query.task, []))
        if query.status is not None:
            sources.append(self._status.get(query.status, []))
        if query.parent_id is not None:
            sources.append(self._parent.get(query.parent_id, []))
        if query.schedule is not None:
            sources.append(self._schedule.get(query.schedule, []))
        if query.roots_only:
            sources.append(self._roots)
        ids = min(sources, key=len) if sources else self._all
        end = len(ids) if query.cursor is None else bisect_left(ids, query.cursor)
        found: list[RunMeta] = []
        for i in range(end - 1, -1, -1):
            m = self.meta[ids[i]]
            if (
                (query.task is None or m.task == query.task)
                and (query.status is None or m.status == query.status)
                and (query.parent_id is None or m.parent_id == query.parent_id)
                and (query.schedule is None or m.schedule == query.schedule)
                and (not query.roots_only or m.parent_id is None)
            ):
                if len(found) == query.limit:
                    return found, found[-1].id
                found.append(m)
        return found, None

    def span(self, status: str, after: str | None, below: str | None, limit: int) -> list[RunMeta]:
        """Up to ``limit`` runs in ``status`` by id, after ``after`` and below ``below``."""
        ids = self._status.get(status, [])
        start = 0 if after is None else bisect_right(ids, after)
        end = len(ids) if below is None else bisect_left(ids, below)
        return [self.meta[run_id] for run_id in ids[start : min(end, start + limit)]]

    def tree(self, root: str) -> list[RunMeta]:
        """``root`` and every run below it (``parent_id`` links), parents first."""
        found = [self.meta[root]]
        seen = {root}
        for meta in found:  # grows while it is walked: breadth first
            for child in self._parent.get(meta.id, ()):
                if child not in seen:
                    seen.add(child)
                    found.append(self.meta[child])
        return found

    def remove(self, metas: list[RunMeta]) -> None:
        """Forget ``metas`` (a batch of pruned runs). Each list loses a contiguous span
        of ids at once: a batch's ids are close together, so this is one splice per
        list rather than one shift of the whole list per run."""
        gone = {m.id for m in metas}
        unnamed = (self._all, self._roots)
        named = (self._task, self._status, self._parent, self._schedule)
        spans: dict[tuple[int, str], list[str]] = {}  # (which list, name) -> doomed ids
        for m in metas:
            del self.meta[m.id]
            if m.key is not None and self.keys.get(m.key) == m.id:
                del self.keys[m.key]
            spans.setdefault((0, ""), []).append(m.id)
            spans.setdefault((2, m.task), []).append(m.id)
            spans.setdefault((3, m.status), []).append(m.id)
            if m.parent_id is not None:
                spans.setdefault((4, m.parent_id), []).append(m.id)
            else:
                spans.setdefault((1, ""), []).append(m.id)
            if m.schedule is not None:
                spans.setdefault((5, m.schedule), []).append(m.id)
        for (which, name), doomed in spans.items():
            lists = named[which - 2] if which >= 2 else None
            ids = unnamed[which] if lists is None else lists.get(name)
            if ids is None:
                continue
            lo, hi = bisect_left(ids, min(doomed)), bisect_right(ids, max(doomed))
            ids[lo:hi] = [run_id for run_id in ids[lo:hi] if run_id not in gone]
            if not ids and lists is not None:
                del lists[name]

    def by_prefix(self, prefix: str, limit: int) -> list[RunMeta]:
        """The runs whose id starts with ``prefix``, newest first, at most ``limit``."""
        low, high = prefix_bounds(prefix)
        ids = self._all
        start, end = bisect_left(ids, low), bisect_left(ids, high)
        return [self.meta[ids[i]] for i in range(end - 1, max(start, end - limit) - 1, -1)]

    def children(self, run_ids: Iterable[str]) -> dict[str, int]:
        """How many runs each of ``run_ids`` is the parent of (those with any)."""
        return {i: len(self._parent[i]) for i in run_ids if self._parent.get(i)}

    def tree_ids(self, run_id: str) -> set[str]:
        """``run_id`` and every run under it (by parent)."""
        return {meta.id for meta in self.tree(run_id)} if run_id in self.meta else {run_id}

    def counts(self) -> dict[str, int]:
        return {status: len(ids) for status, ids in self._status.items() if ids}

    def unfinished(self) -> list[RunMeta]:
        """Queued, running and suspended runs, oldest first."""
        lists = [self._status.get(s, []) for s in UNFINISHED]
        return [self.meta[run_id] for run_id in heapq.merge(*lists)]
