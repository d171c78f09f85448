"""What retention removes, as the storage interface carries it: one batch of pruning
asked for (``PruneQuery``) and what it removed (``PruneBatch``).

The unit of retention is a run *tree*: a run that no other run started (its root), with
every run it started, down to the leaves (``parent_id`` links). A tree is removed whole
or not at all, and only once every run in it is finished: a flow's history never loses
a state's run while the flow is kept, and nothing that still runs (or may resume) is
ever touched. Its age and its filters are its root's: a tree is as old as its root's
``finished_at``, and ``status`` and ``task`` are the root's.
"""

from __future__ import annotations

from seqd.model.runs import Model, RunStatus


class PruneQuery(Model, kw_only=True):
    """One batch of retention: the trees whose root has ``status`` (a finished one) and
    ``task``, and finished before ``finished_before``, among the runs with ids after
    ``after`` (and below ``before_id``), at most ``limit`` of them examined."""

    status: RunStatus
    finished_before: str
    """RFC 3339 UTC, as ``Run.finished_at``: only roots that finished before it."""
    task: str | None = None
    after: str | None = None
    """The cursor: the ``cursor`` of the previous batch; None to start."""
    before_id: str | None = None
    """Only runs with a smaller id (ids sort by creation time, and a run that finished
    before the cutoff was created before it: ``seqd.model.ids.first_id_at``)."""
    limit: int = 200
    """Runs examined at most (roots or not, removed or not): the bound on one batch's
    work, whatever the store holds."""
    dry_run: bool = False
    """Count what would be removed; remove nothing."""


class PruneBatch(Model, kw_only=True):
    """What one batch removed (or, in a dry run, would remove)."""

    removed: list[str] = []
    """Every run id removed: roots and their descendants."""
    log_lines: int = 0
    steps: int = 0
    """Journal entries."""
    bytes_freed: int = 0
    """The size of what was removed as the store holds it (run records, log lines,
    journal entries): the space that comes back, about."""
    cursor: str | None = None
    """The last run examined, to pass as ``after``; None once no run is left to examine."""


class PruneTotals(Model, kw_only=True):
    """★ What a prune removed, over all its batches (``runs.prune``'s result): runs,
    log lines, journal entries, and about how many bytes came back."""

    runs: int = 0
    log_lines: int = 0
    steps: int = 0
    bytes_freed: int = 0

    def add(self, batch: PruneBatch) -> None:
        self.runs += len(batch.removed)
        self.log_lines += batch.log_lines
        self.steps += batch.steps
        self.bytes_freed += batch.bytes_freed
