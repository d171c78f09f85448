"""``runs.trace``: the spans of the tree a run belongs to, read back from storage."""

from __future__ import annotations

from typing import TYPE_CHECKING

from seqd.rpc.dispatch import Caller, Handler
from seqd.rpc.runs import RunIdParams, TraceResult
from seqd.trace.collect import collect

if TYPE_CHECKING:
    from seqd.api.context import Daemon


def handlers(app: Daemon) -> dict[str, Handler]:
    async def trace(params: RunIdParams, caller: Caller) -> TraceResult:
        run = await app.engine.get(params.id)
        found = await collect(app.storage, run)
        return TraceResult(
            trace_id=found.trace_id,
            root_id=found.root_id,
            spans=found.spans,
            truncated=found.truncated,
        )

    return {"runs.trace": trace}
