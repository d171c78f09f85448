"""``create_runs``: what every store checks before it inserts a batch of runs.

Its own module because the rules of a batch are the contract's, not any one store's:
the whole batch is refused, naming the run (``details.index``), when two of its runs
share an idempotency key (all of a batch's keys are in one scope: its submitter's),
when a key is held by a stored run of another task or input, or when an id is already
stored; a key held by a run of the same task and input answers with that run, as
``create_run`` does. A store finds the holders of the keys its own way (one query, or
its index) and hands them to :func:`plan`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from seqd.errors import Conflict, ValidationFailed
from seqd.model.runs import Run
from seqd.plugins.storage_kit.records import check_run_key


def key_scope(runs: Sequence[Run]) -> str | None:
    """The one idempotency scope of the batch's keys (a batch is one submitter's), or
    None when no run has a key; ``ValidationFailed`` if keys come in several scopes."""
    for run in runs:
        check_run_key(run)
    scopes = {run.idempotency_scope for run in runs if run.idempotency_key is not None}
    if len(scopes) > 1:
        raise ValidationFailed(
            "the idempotency keys of one batch must be in one scope",
            {"field": "idempotency_scope"},
        )
    return scopes.pop() if scopes else None


def check_keys(runs: Sequence[Run]) -> list[str]:
    """The batch's idempotency keys, each once; Conflict if one is given twice. The
    keys are all in one scope (``key_scope``)."""
    key_scope(runs)
    first: dict[str, int] = {}
    for index, run in enumerate(runs):
        key = run.idempotency_key
        if key is None:
            continue
        if key in first:
            raise Conflict(
                f"runs {first[key]} and {index} of the batch have the same idempotency key {key!r}",
                {"index": index, "field": "idempotency_key", "idempotency_key": key},
            )
        first[key] = index
    return list(first)


def plan(
    runs: Sequence[Run], holders: Mapping[str, Run]
) -> tuple[list[tuple[Run, bool]], list[Run]]:
    """The answer of ``create_runs`` and the runs to insert, given the stored runs
    holding any of the batch's keys (``holders``, by key). Conflict when a key is held
    by a run of another task or input."""
    answer: list[tuple[Run, bool]] = []
    fresh: list[Run] = []
    for index, run in enumerate(runs):
        held = holders.get(run.idempotency_key) if run.idempotency_key is not None else None
        if held is None:
            answer.append((run, True))
            fresh.append(run)
        elif held.task != run.task or held.input != run.input:
            raise Conflict(
                f"idempotency key {run.idempotency_key!r} (run {index} of the batch) was "
                f"already used for run {held.id} of task {held.task!r} with another input",
                {"index": index, "field": "idempotency_key", "id": held.id, "task": held.task},
            )
        else:
            answer.append((held, False))
    return answer, fresh


def id_taken(runs: Sequence[Run], stored: set[str]) -> Conflict:
    """The error for a batch one of whose ids (in ``stored``) exists already."""
    for index, run in enumerate(runs):
        if run.id in stored:
            return Conflict(f"run {run.id} already exists", {"id": run.id, "index": index})
    return Conflict("a run of the batch already exists", {})
