"""The two policies, as pure decisions: which missed fires run after downtime
(``misfire``), and what a fire does while the schedule's previous run is unfinished
(``overlap``).

Its own module because these are the rules users choose between and read about in
docs/schedules.md; the scheduler only carries out what they decide, so they are tested
here alone, without a daemon.
"""

from __future__ import annotations

from typing import Literal

from seqd.model.runs import Run
from seqd.model.schedules import Misfire, Overlap
from seqd.model.status import UNFINISHED

Decision = Literal["fire", "done", "skip", "queue"]


def to_run_after_misfire(policy: Misfire, missed: list[int], catch_up: int) -> list[int]:
    """Of the ``missed`` fires (the latest ones, oldest first), those that run now:
    none (``skip``), the latest (``run_once``), or the latest ``catch_up`` of them."""
    if not missed or policy == "skip":
        return []
    if policy == "run_once":
        return missed[-1:]
    return missed[-catch_up:]


def on_overlap(policy: Overlap, previous: Run | None, nominal: str, queued: bool) -> Decision:
    """What the fire for ``nominal`` does, given the schedule's newest run
    (``previous``) and whether fires are already ``queued`` behind it:

    - ``done``: ``previous`` *is* this fire's run (made before a crash or a restart
      took the daemon down before it could note it);
    - ``fire``: start a run now;
    - ``skip`` or ``queue``: the previous run is unfinished (or fires wait before this
      one), and the policy says what to do with this fire.
    """
    if previous is not None and previous.scheduled_for == nominal:
        return "done"
    if policy == "allow":
        return "fire"
    if policy == "queue" and queued:
        return "queue"
    if previous is None or previous.status not in UNFINISHED:
        return "fire"
    return policy
