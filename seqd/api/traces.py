"""``runs.trace``: the spans of the tree a run belongs to, read back from storage.

The spans are built from the runs' journals (step names, errors, tool summaries), so
they are shown only to a caller who may read the run's journal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from seqd.api.refs import resolve
from seqd.rpc.dispatch import Caller, Handler
from seqd.rpc.runs import RunIdParams, TraceResult
from seqd.trace.collect import collect

if TYPE_CHECKING:
    from seqd.api.context import Daemon


def handlers(app: Daemon) -> dict[str, Handler]:
    async def trace(params: RunIdParams, caller: Caller) -> TraceResult:
        run = await resolve(app.engine, params.id)
        app.access.check_data(caller, run, "spans")
        found = await collect(app.storage, run)
        return TraceResult(
            trace_id=found.trace_id,
            root_id=found.root_id,
            spans=found.spans,
            truncated=found.truncated,
        )

    return {"runs.trace": trace}
