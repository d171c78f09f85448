"""The file store's change positions: which run was written at which position, so that
"runs changed after P" (``run_changes``) is a bisect and a short walk.

Its own module because the index answers "which runs match" while this answers "in
what order were they written". Every run write takes the next position (``next``) on
the loop just before it goes to the writer thread, which applies writes in the order
they came, so positions follow commit order; the position is kept in the run file
itself, so the scan at open finds them again. A run written again leaves its old entry
behind: entries are (position, id) pairs in position order, an entry is current while
the run's ``RunMeta.change`` still equals it, and stale ones are dropped once they
outnumber the runs.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from seqd.builtin.storage.fs.index import RunMeta

_SLACK = 1024
"""Stale entries tolerated beyond one per run before a compaction."""


class ChangeLog:
    """Run ids by change position; reads ``meta`` (the index's runs by id) to tell
    current entries from stale ones."""

    def __init__(self, meta: dict[str, RunMeta]) -> None:
        self._meta = meta
        self.last = 0
        """The highest position given out or found on disk."""
        self.applied = 0
        """The highest position of a write that is done (``last_change``)."""
        self._positions: list[int] = []
        self._ids: list[str] = []

    def next(self) -> int:
        """The position of a write about to be committed."""
        self.last += 1
        return self.last

    def load(self, metas: Iterable[RunMeta]) -> None:
        """The runs found by the scan at open (replacing what was there)."""
        entries = sorted((m.change, m.id) for m in metas if m.change > 0)
        self._positions = [position for position, _ in entries]
        self._ids = [run_id for _, run_id in entries]
        if entries:
            self.last = max(self.last, entries[-1][0])
            self.applied = max(self.applied, entries[-1][0])

    def put(self, meta: RunMeta, runs: int) -> None:
        """``meta`` was written at ``meta.change``; ``runs`` is the number of runs."""
        position = meta.change
        if position <= 0:
            return
        self.last = max(self.last, position)
        self.applied = max(self.applied, position)
        if not self._positions or self._positions[-1] < position:
            self._positions.append(position)
            self._ids.append(meta.id)
        else:  # applied out of order (never expected: the writer keeps the order)
            at = bisect_right(self._positions, position)
            self._positions.insert(at, position)
            self._ids.insert(at, meta.id)
        if len(self._positions) > 2 * runs + _SLACK:
            self._compact()

    def _compact(self) -> None:
        kept = [
            (position, run_id)
            for position, run_id in zip(self._positions, self._ids, strict=True)
            if self._current(position, run_id)
        ]
        self._positions = [position for position, _ in kept]
        self._ids = [run_id for _, run_id in kept]

    def _current(self, position: int, run_id: str) -> bool:
        meta = self._meta.get(run_id)
        return meta is not None and meta.change == position

    def after(self, position: int, limit: int, among: set[str] | None = None) -> list[RunMeta]:
        """The runs last written after ``position``, by position, at most ``limit``;
        with ``among`` only those runs (a walk over every later change)."""
        found: list[RunMeta] = []
        start = bisect_right(self._positions, position)
        for at in range(start, len(self._positions)):
            meta = self._meta.get(self._ids[at])
            if meta is None or meta.change != self._positions[at]:
                continue
            if among is not None and meta.id not in among:
                continue
            found.append(meta)
            if len(found) >= limit:
                break
        return found
