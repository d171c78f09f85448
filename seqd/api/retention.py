"""``runs.prune``: retention on request (admins only; the method table says so)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from seqd.model.retention import PruneTotals
from seqd.rpc.dispatch import Caller, Handler
from seqd.rpc.retention import PruneParams
from seqd.storage.retention import FINISHED

if TYPE_CHECKING:
    from seqd.api.context import Daemon


def handlers(app: Daemon) -> dict[str, Handler]:
    async def prune(params: PruneParams, caller: Caller) -> PruneTotals:
        return await app.pruner.prune(
            params.older_than_s,
            params.status or FINISHED,
            task=params.task,
            dry_run=params.dry_run,
        )

    return {"runs.prune": prune}
