"""Runs as a seqd from before idempotency scopes stored them, for each backend's own
test of its migration (the SQL stores' schema version 4, the file store's scan).

Its own module because every backend must reach the same answer from the same old
records: ``legacy_runs`` gives them with the scope each must end up in.
"""

from __future__ import annotations

from typing import Any

import msgspec

from seqd.model.runs import Run
from seqd.plugins.storage import StorageBackend
from seqd.testing.storage.support import changed, new_run

_NEW_FIELDS = ("idempotency_scope", "redacted")


def legacy_record(run: Run) -> dict[str, Any]:
    """``run`` as the old seqd encoded it: without the fields added since."""
    record: dict[str, Any] = msgspec.to_builtins(run)
    for name in _NEW_FIELDS:
        record.pop(name, None)
    return record


def legacy_json(run: Run) -> str:
    return msgspec.json.encode(legacy_record(run)).decode()


def legacy_runs() -> list[tuple[Run, str | None]]:
    """Old runs (no scope) and the scope each must get: a child started through its
    parent's journal goes to the parent's scope; any other keyed run to its submitter's
    (``system`` when it has none); an unkeyed run gets none."""
    parent = new_run(idempotency_key="nightly", submitted_by=1000, status="running")
    child = new_run(
        idempotency_key=f"{parent.id}.1:step-a",
        parent_id=parent.id,
        root_id=parent.id,
        submitted_by=1000,
        input={"nul": "a\x00b", "text": 'quote " and \\ backslash'},
    )
    by_tool = new_run(
        idempotency_key="tool-key", parent_id=parent.id, root_id=parent.id, submitted_by=1000
    )
    system = new_run(idempotency_key="daemon-key")
    plain = new_run(submitted_by=1001)
    return [
        (_unscoped(parent), "uid:1000"),
        (_unscoped(child), f"run:{parent.id}"),
        (_unscoped(by_tool), "uid:1000"),
        (_unscoped(system), "system"),
        (plain, None),
    ]


async def check_migrated(store: StorageBackend, old: list[tuple[Run, str | None]]) -> None:
    """``store``, opened on the records of ``old`` (from ``legacy_runs``), gives each run
    its scope; the child's key then finds the child in its parent's scope, and the
    parent's key in another user's scope makes another run (taken once: a second check
    on the same store finds it)."""
    for run, scope in old:
        assert await store.get_run(run.id) == changed(run, idempotency_scope=scope)
    parent, child = old[0][0], old[1][0]
    again = new_run(idempotency_key=child.idempotency_key, idempotency_scope=f"run:{parent.id}")
    assert (await store.create_run(again))[0].id == child.id
    other = new_run(idempotency_key=parent.idempotency_key, idempotency_scope="uid:1001")
    stored, _ = await store.create_run(other)
    assert stored.id not in {run.id for run, _ in old}


def _unscoped(run: Run) -> Run:
    return msgspec.structs.replace(run, idempotency_scope=None)
