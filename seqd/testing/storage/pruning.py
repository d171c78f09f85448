"""Retention: ``prune_runs`` removes whole finished trees, and nothing else.

Its own module because removing is the one write that may lose history on purpose, so
its limits are the store's promise: only trees whose every run has finished, whole
(runs, logs, journals, idempotency keys), only those the query names, in batches of
bounded work that together walk the whole store; a dry run counts the same and
changes nothing.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from seqd.errors import ValidationFailed
from seqd.model.ids import first_id_at
from seqd.model.retention import PruneBatch, PruneQuery
from seqd.model.runs import Run, RunQuery, RunStatus
from seqd.model.timeutil import format_ts
from seqd.plugins.storage import StorageBackend
from seqd.testing.storage.support import (
    BackendMaker,
    Cases,
    changed,
    lines,
    made,
    new_run,
    new_step,
    opened,
)

HOUR = 3600.0


def ended(status: RunStatus = "succeeded", ago_s: float = 2 * HOUR, **fields: Any) -> Run:
    """A run that finished ``ago_s`` seconds ago."""
    return new_run(status=status, finished_at=format_ts(time.time() - ago_s), **fields)


def older_than(age_s: float = HOUR, status: RunStatus = "succeeded", **fields: Any) -> PruneQuery:
    """Trees of ``status`` older than ``age_s``. (Without ``before_id``: the runs here
    are made now and finished in the past, which the engine never does.)"""
    return PruneQuery(status=status, finished_before=format_ts(time.time() - age_s), **fields)


async def prune_all(backend: StorageBackend, query: PruneQuery) -> tuple[PruneBatch, int]:
    """Every batch of ``query`` until none is left: their sum, and how many there were."""
    total = PruneBatch()
    for n in range(1, 10_000):
        batch = await backend.prune_runs(query)
        assert len({*batch.removed}) == len(batch.removed), "a run removed twice"
        total.removed += batch.removed
        total.log_lines += batch.log_lines
        total.steps += batch.steps
        total.bytes_freed += batch.bytes_freed
        if batch.cursor is None:
            return total, n
        assert query.after is None or batch.cursor > query.after, "the cursor went back"
        query = PruneQuery(**{**_fields(query), "after": batch.cursor})
    raise AssertionError("prune_runs never ended")


def _fields(query: PruneQuery) -> dict[str, Any]:
    return {f: getattr(query, f) for f in query.__struct_fields__}


async def create(backend: StorageBackend, *runs: Run) -> None:
    for run in runs:
        assert (await backend.create_run(run))[1]


class PruneCases(Cases):
    """``prune_runs``."""

    def test_removes_old_finished_trees_with_their_logs_journals_and_keys(
        self, make_backend: BackendMaker
    ) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                old = ended(task="flow", idempotency_key="nightly-1")
                child = ended(task="leaf", parent_id=old.id, root_id=old.id)
                grandchild = ended(task="leaf", parent_id=child.id, root_id=old.id)
                recent = ended(ago_s=60)
                failed = ended("failed")
                queued = new_run()
                await create(b, old, child, grandchild, recent, failed, queued)
                await b.append_logs(old.id, lines("a", "b", "c"))
                await b.append_logs(grandchild.id, lines("d" * 1000))
                await b.append_steps(old.id, [new_step("state", "s1"), new_step("state", "s2")])
                await b.append_logs(recent.id, lines("kept"))

                total, _ = await prune_all(b, older_than())
                assert sorted(total.removed) == sorted([old.id, child.id, grandchild.id])
                assert (total.log_lines, total.steps) == (4, 2)
                assert total.bytes_freed >= 1000
                for gone in (old, child, grandchild):
                    assert await b.get_run(gone.id) is None
                    assert await b.read_logs(gone.id, 0, 10) == []
                    assert await b.read_steps(gone.id, 0, 10) == []
                for kept in (recent, failed, queued):
                    assert await b.get_run(kept.id) == kept
                assert [x.text for x in await b.read_logs(recent.id, 0, 10)] == ["kept"]
                assert (await b.list_runs(RunQuery(parent_id=old.id))).runs == []
                assert await b.count_by_status() == {"succeeded": 1, "failed": 1, "queued": 1}
                # The key of a pruned run is free again.
                again = new_run(idempotency_key="nightly-1")
                assert made(await b.create_run(again)) == (again, True)
                # Nothing is left to prune: a second pass removes nothing.
                assert (await prune_all(b, older_than()))[0].removed == []

        self.run(main())

    def test_a_tree_with_an_unfinished_run_is_kept_whole(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                root = ended()
                done = ended(parent_id=root.id, root_id=root.id)
                running = new_run(status="running", parent_id=root.id, root_id=root.id)
                await create(b, root, done, running)
                assert (await prune_all(b, older_than()))[0].removed == []
                assert await b.get_run(done.id) == done
                finished = changed(running, status="cancelled", finished_at=format_ts(0))
                assert await b.update_run(finished, expect=["running"])
                total, _ = await prune_all(b, older_than())
                assert sorted(total.removed) == sorted([root.id, done.id, running.id])

        self.run(main())

    def test_a_dry_run_counts_the_same_and_removes_nothing(
        self, make_backend: BackendMaker
    ) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                root = ended()
                child = ended(parent_id=root.id, root_id=root.id)
                await create(b, root, child)
                await b.append_logs(child.id, lines("x" * 500, "y"))
                await b.append_steps(root.id, [new_step("child", "c1")])
                dry, _ = await prune_all(
                    b, PruneQuery(**{**_fields(older_than()), "dry_run": True})
                )
                assert await b.get_run(root.id) == root
                assert len(await b.read_logs(child.id, 0, 10)) == 2
                real, _ = await prune_all(b, older_than())
                assert sorted(dry.removed) == sorted(real.removed) == sorted([root.id, child.id])
                assert (dry.log_lines, dry.steps) == (real.log_lines, real.steps) == (2, 1)
                assert dry.bytes_freed == real.bytes_freed > 500

        self.run(main())

    def test_the_filters_are_the_roots(self, make_backend: BackendMaker) -> None:
        """Status, task and age are the root's: a run another run started goes with it."""

        async def main() -> None:
            async with opened(make_backend) as b:
                flow = ended("failed", task="flow")
                state = ended("succeeded", task="leaf", parent_id=flow.id, root_id=flow.id)
                leaf = ended("succeeded", task="leaf")
                young_root = ended("succeeded", ago_s=60)
                old_child = ended(parent_id=young_root.id, root_id=young_root.id)
                await create(b, flow, state, leaf, young_root, old_child)
                by_leaf, _ = await prune_all(b, older_than(task="leaf"))
                assert by_leaf.removed == [leaf.id]  # not the flow's state
                assert (await prune_all(b, older_than(task="flow")))[0].removed == []  # failed
                failed, _ = await prune_all(b, older_than(status="failed", task="flow"))
                assert sorted(failed.removed) == sorted([flow.id, state.id])
                assert await b.get_run(old_child.id) == old_child  # its root is young

        self.run(main())

    def test_a_run_whose_parent_is_gone_roots_its_own_tree(
        self, make_backend: BackendMaker
    ) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                orphan = ended(parent_id=new_run().id)  # its parent was never stored
                await create(b, orphan)
                assert (await prune_all(b, older_than()))[0].removed == [orphan.id]

        self.run(main())

    def test_batches_are_bounded_and_walk_the_whole_store(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                expected: list[str] = []
                for i in range(23):
                    root = ended("cancelled")
                    await create(b, root)
                    expected.append(root.id)
                    if i % 4 == 0:
                        child = ended(parent_id=root.id, root_id=root.id)
                        await create(b, child)
                        expected.append(child.id)
                kept = ended("cancelled", ago_s=1)
                await create(b, kept)
                query = PruneQuery(**{**_fields(older_than(status="cancelled")), "limit": 5})
                first = await b.prune_runs(query)
                assert first.cursor is not None and len(first.removed) <= 2 * 5
                total, batches = await prune_all(b, query)
                assert sorted(total.removed + first.removed) == sorted(expected)
                assert batches >= 4
                assert await b.get_run(kept.id) == kept
                # Only ids below before_id are examined (made before a time: first_id_at).
                later = ended("cancelled")
                await create(b, later)
                before = PruneQuery(
                    **{**_fields(query), "before_id": first_id_at(time.time() - 60)}
                )
                assert await b.prune_runs(before) == PruneBatch()
                assert (await prune_all(b, query))[0].removed == [later.id]

        self.run(main())

    def test_refuses_a_query_that_makes_no_sense(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                with pytest.raises(ValidationFailed) as bad_status:
                    await b.prune_runs(older_than(status="running"))
                assert bad_status.value.details["field"] == "status"
                with pytest.raises(ValidationFailed) as bad_limit:
                    await b.prune_runs(PruneQuery(**{**_fields(older_than()), "limit": 0}))
                assert bad_limit.value.details["field"] == "limit"

        self.run(main())
