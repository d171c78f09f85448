"""Run references: what a caller may write where a method takes a run.

A full id, a unique prefix of one (4 or more hex digits: ids start with their creation
time, so the digits that tell runs apart come last — ``last`` is often the handier
name), ``last`` (the newest run without a parent: what someone submitted, not a state
of a flow) or ``last:TASK`` (the newest run of TASK, at any depth). Resolved here, on
the daemon's side, so every client gets the same names; results always carry full ids.

Its own module because every ``runs.*`` method that takes a run resolves it the same
way, with the same errors: not found (with did-you-mean for a ``last:TASK`` whose task
does not exist), or ambiguous (listing the candidates, newest first, bounded).
"""

from __future__ import annotations

from seqd.engine import Engine
from seqd.errors import NotFound, ValidationFailed
from seqd.model.ids import ID_LENGTH
from seqd.model.runs import Run, RunQuery
from seqd.model.suggest import unknown

CANDIDATES = 10
"""Runs listed at most in the error for an ambiguous prefix."""
LAST = "last"


async def resolve(engine: Engine, ref: str) -> Run:
    """The run ``ref`` names (as the engine sees it now: live state first)."""
    if ref == LAST or ref.startswith(LAST + ":"):
        return await _latest(engine, ref.partition(":")[2] or None)
    try:
        return await engine.get(ref)  # a full id is always exactly that run
    except NotFound:
        pass
    found = await engine.storage.runs_by_prefix(ref, CANDIDATES + 1)
    if not found:
        what = f"with id {ref}" if len(ref) >= ID_LENGTH else f"has an id starting with {ref!r}"
        raise NotFound(f"no run {what}", {"id": ref})
    if len(found) > 1:
        raise ambiguous(ref, found)
    return await engine.get(found[0].id)


async def resolve_id(engine: Engine, ref: str) -> str:
    return (await resolve(engine, ref)).id


async def _latest(engine: Engine, task: str | None) -> Run:
    query = RunQuery(task=task, roots_only=task is None, limit=1)
    page = await engine.storage.list_runs(query)
    if page.runs:
        return await engine.get(page.runs[0].id)
    if task is None:
        raise NotFound("there are no runs yet", {"id": LAST})
    details = {"id": f"{LAST}:{task}", "task": task}
    if task not in engine.catalog.entries:
        raise unknown(f"no task named {task!r}", task, engine.catalog.entries, details)
    raise NotFound(f"task {task!r} has no runs", details)


def ambiguous(ref: str, found: list[Run]) -> ValidationFailed:
    """The error for a prefix that several runs start with (``found``, newest first,
    one more than are listed when there are more)."""
    shown = found[:CANDIDATES]
    more = " or more" if len(found) > CANDIDATES else ""
    return ValidationFailed(
        f"{ref!r} is the start of {len(shown)}{more} run ids; give more of the id "
        f"(the newest: {shown[0].id}, {shown[0].task}, {shown[0].status})",
        {
            "field": "id",
            "reason": "ambiguous",
            "candidates": [
                {"id": r.id, "task": r.task, "status": r.status, "created_at": r.created_at}
                for r in shown
            ],
            "more": len(found) > CANDIDATES,
        },
    )
