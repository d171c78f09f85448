"""What a subscription asks for: its topics and the runs its filters select.

Its own module because the same question — is this run, this line, in the
subscription? — is asked by the bus when it routes a live event and by the replay when
it reads storage, and both must answer it alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from seqd.model.runs import Run


@dataclass(frozen=True, slots=True)
class Scope:
    topics: frozenset[str]
    run_id: str | None = None
    """One run only."""
    root_id: str | None = None
    """The runs of one tree (a run and all under it)."""
    task: str | None = None
    statuses: frozenset[str] | None = None
    """``run`` events only of runs in one of these statuses."""

    @property
    def runs(self) -> bool:
        return "run" in self.topics

    @property
    def logs(self) -> bool:
        return "log" in self.topics

    @property
    def steps(self) -> bool:
        return "step" in self.topics

    @property
    def seqs(self) -> bool:
        """Whether it follows runs' logs or journals (then it needs ``run_id`` or
        ``root_id``, and tracks each run of its scope)."""
        return self.logs or self.steps

    def holds(self, run_id: str, root_id: str | None, task: str | None) -> bool:
        """Whether a run (its lines, its journal) is in the scope."""
        return (
            (self.run_id is None or run_id == self.run_id)
            and (self.root_id is None or root_id == self.root_id)
            and (self.task is None or task == self.task)
        )

    def shows(self, run: Run) -> bool:
        """Whether a write of ``run`` is sent as a ``run`` event."""
        return (
            self.runs
            and self.holds(run.id, run.root_id, run.task)
            and (self.statuses is None or run.status in self.statuses)
        )
