"""Where a new run and a run's tool call sit in a trace: a child run joins its
parent's trace under the parent's span, a run submitted with a ``traceparent`` joins
the caller's, any other run starts a trace; a tool call is a span under the operation
that made it (else under the run).

Its own module because these are the engine's only decisions about traces; the ids
themselves are ``seqd.model.traces``.
"""

from __future__ import annotations

from seqd.model.roles import Role
from seqd.model.runs import Run
from seqd.model.traces import (
    TraceParent,
    new_span_id,
    new_trace_id,
    run_span_id,
    step_span_id,
    trace_of,
)
from seqd.plugins.tools import ToolCaller

from .transitions import Transitions


async def trace_of_new_run(
    transitions: Transitions, parent_id: str | None, trace: TraceParent | None
) -> tuple[str, str | None]:
    """The trace id and parent span of a new run."""
    if parent_id is not None:
        parent = transitions.live.get(parent_id) or await transitions.storage.get_run(parent_id)
        if parent is not None:
            return trace_of(parent), run_span_id(parent_id)
    if trace is not None:
        return trace.trace_id, trace.span_id
    return new_trace_id(), None


def run_caller(run: Run, key: str | None, role: Role) -> ToolCaller:
    """The caller of a tool called by ``run`` for its operation ``key`` (or itself),
    acting for its submitter with ``role``."""
    return ToolCaller(
        kind="run",
        run_id=run.id,
        task=run.task,
        root_id=run.root_id,
        uid=run.submitted_by,
        role=role,
        trace_id=trace_of(run),
        span_id=new_span_id(),
        parent_span_id=run_span_id(run.id) if key is None else step_span_id(run.id, key),
    )
