"""Accepting runs: the record of a new run, and a whole batch of them at once.

Its own module because a batch (``runs.submit_many``) is accepted like one run —
the task must be runnable, each input valid and within the limits, the record stored
before anything else — but all together: every input is checked first (an error names
its index), then one storage transaction stores them all or none, then they go in
line with no further storage call per run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from seqd.catalog.load import TaskEntry
from seqd.errors import ValidationFailed
from seqd.model import timeutil
from seqd.model.ids import IdGenerator
from seqd.model.runs import Run
from seqd.model.scopes import submitter_scope

from .validation import check_size

if TYPE_CHECKING:
    from .engine import Engine

_ENCODER = msgspec.json.Encoder()
CHECKS_PER_TURN = 250
"""Inputs checked between two yields to the event loop: a batch of 10,000 never holds
the loop for long (checking one is some tens of microseconds)."""
QUEUED_PER_TURN = 1000
"""Stored runs put in line between two yields to the event loop."""


def new_run(
    ids: IdGenerator,
    node: str,
    entry: TaskEntry,
    data: dict[str, Any],
    *,
    idempotency_key: str | None = None,
    idempotency_scope: str | None = None,
    priority: int = 0,
    submitted_by: int | None = None,
    parent_id: str | None = None,
    root_id: str | None = None,
    retry_of: str | None = None,
    trace_id: str | None = None,
    parent_span_id: str | None = None,
    schedule: str | None = None,
    scheduled_for: str | None = None,
) -> Run:
    """The record of a run about to be accepted (``data`` already checked)."""
    run_id = ids.new()
    return Run(
        id=run_id,
        task=entry.name,
        status="queued",
        input=data,
        parent_id=parent_id,
        root_id=root_id or run_id,
        task_version=entry.definition.version,
        priority=priority,
        idempotency_key=idempotency_key,
        idempotency_scope=idempotency_scope,
        created_at=timeutil.now(),
        node=node,
        submitted_by=submitted_by,
        retry_of=retry_of,
        trace_id=trace_id,
        parent_span_id=parent_span_id,
        schedule=schedule,
        scheduled_for=scheduled_for,
    )


async def submit_many(
    engine: Engine,
    task: str,
    inputs: Sequence[dict[str, Any]],
    *,
    idempotency_keys: Sequence[str | None] | None = None,
    priority: int = 0,
    submitted_by: int | None = None,
) -> tuple[list[Run], int]:
    """Accept one run of ``task`` per input, all or none: the run of each input (an
    idempotency key may answer with an older one) and how many are new."""
    engine.check_accepting()
    if idempotency_keys is not None and len(idempotency_keys) != len(inputs):
        raise ValidationFailed(
            f"idempotency_keys has {len(idempotency_keys)} entries for {len(inputs)} inputs; "
            "give one per input (null for none)",
            {"field": "idempotency_keys"},
        )
    entry = await engine.catalog.runnable(task)
    limit = engine.config.limits.max_input_bytes
    scope = submitter_scope(submitted_by)
    runs: list[Run] = []
    checked_by_json: dict[bytes, dict[str, Any]] = {}
    for index, data in enumerate(inputs):
        if index and index % CHECKS_PER_TURN == 0:
            await asyncio.sleep(0)
        # Inputs that are the same JSON are checked once (runs never change their input).
        text = _ENCODER.encode(data)
        checked = checked_by_json.get(text)
        if checked is None:
            try:
                checked = engine.catalog.check_input(entry, data)
                check_size("input", checked, limit)
            except ValidationFailed as exc:
                raise _at_index(exc, index) from None
            checked_by_json[text] = checked
        key = idempotency_keys[index] if idempotency_keys is not None else None
        runs.append(
            new_run(
                engine.ids,
                engine.node,
                entry,
                checked,
                idempotency_key=key,
                idempotency_scope=None if key is None else scope,
                priority=priority,
                submitted_by=submitted_by,
            )
        )
    answer = await engine.storage.create_runs(runs)
    fresh = [run for run, created in answer if created]
    for start in range(0, len(fresh), QUEUED_PER_TURN):
        if start:
            await asyncio.sleep(0)  # stored already: a crash now only delays them
        engine.accepted(fresh[start : start + QUEUED_PER_TURN])
    return [run for run, _ in answer], len(fresh)


def _at_index(exc: ValidationFailed, index: int) -> ValidationFailed:
    """An input's error, located in the batch: ``input.n`` becomes ``inputs[3].n``."""
    where = f"inputs[{index}]"
    field = str(exc.details.get("field") or "input")
    located = where + field.removeprefix("input")
    message = exc.message
    located_message = located + message[len(field) :] if message.startswith(field) else None
    return ValidationFailed(
        located_message or f"{where}: {message}",
        {**exc.details, "field": located, "index": index},
    )
