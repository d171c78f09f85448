"""Run statuses as plain constants, for code that must not import msgspec.

``seqd.model.runs`` re-exports these next to ``RunStatus``; ``seqctl`` imports them from
here, since its start-up path imports neither msgspec nor ``typing`` (``RunStatus``
is only needed by the type checker).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from seqd.model.runs import RunStatus

RUN_STATUSES: tuple[RunStatus, ...] = (
    "queued",
    "running",
    "suspended",
    "succeeded",
    "failed",
    "cancelled",
)
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
UNFINISHED: tuple[RunStatus, ...] = ("queued", "running", "suspended")
