"""Wire types of ``runs.prune``: which finished run trees to remove.

Its own module beside ``protocol`` (which lists the method in ``METHODS``), as each
area's wire types are once protocol.py would grow past a reader's reach.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from seqd.model.durations import MAX_SECONDS
from seqd.rpc.params import Params, TaskName

FinishedStatus = Literal["succeeded", "failed", "cancelled"]


class PruneParams(Params, kw_only=True):
    older_than_s: Annotated[float, Meta(ge=0, le=MAX_SECONDS)]
    """Trees whose root finished more than this many seconds ago."""
    status: Annotated[list[FinishedStatus], Meta(min_length=1)] | None = None
    """Only trees whose root ended so; default every finished status."""
    task: TaskName | None = None
    """Only trees whose root is a run of this task."""
    dry_run: bool = False
    """Count what would go; remove nothing."""
