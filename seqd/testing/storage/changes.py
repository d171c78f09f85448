"""Change positions: every run write gets the store's next one, and ``run_changes``
lists the runs written after a position, each once, as last written.

Its own module because events replay from these (``seqd.events``): a client that comes
back with a cursor must get every run that changed while it was away, in order, and no
run twice — so positions must only grow, survive a restart and follow commit order.
"""

from __future__ import annotations

import asyncio

from seqd.model.runs import RunChange
from seqd.model.timeutil import now
from seqd.plugins.storage import StorageBackend
from seqd.testing.storage.support import (
    BackendMaker,
    Cases,
    changed,
    lines,
    new_run,
    new_step,
    opened,
)


async def all_changes(backend: StorageBackend, after: int = 0, **filters: str) -> list[RunChange]:
    """Every change after ``after``, read a few at a time."""
    found: list[RunChange] = []
    while True:
        page = await backend.run_changes(after, 3, **filters)
        assert len(page) <= 3
        if not page:
            return found
        found.extend(page)
        after = page[-1].position


class ChangeCases(Cases):
    """``create_run``/``update_run`` positions, ``run_changes``, ``last_change``,
    ``last_log_seq`` and ``last_step_seq``."""

    def test_writes_take_growing_positions(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                assert await b.last_change() == 0
                assert await b.run_changes(0, 10) == []
                first, second = new_run(), new_run()
                _, p1 = await b.create_run(first)
                _, p2 = await b.create_run(second)
                running = changed(first, status="running", started_at=now())
                p3 = await b.update_run(running, expect=["queued"])
                assert 0 < p1 < p2 < p3
                assert await b.last_change() == p3
                # Each run once, at its last write, in position order.
                listed = await all_changes(b)
                assert [(c.position, c.run) for c in listed] == [(p2, second), (p3, running)]
                assert [c.run.id for c in await b.run_changes(p2, 10)] == [first.id]
                assert await b.run_changes(p3, 10) == []
                assert len(await b.run_changes(0, 1)) == 1

        self.run(main())

    def test_writes_that_do_nothing_take_no_position(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                run = new_run(idempotency_key="one")
                _, created = await b.create_run(run)
                assert await b.create_run(new_run(idempotency_key="one")) == (run, 0)
                assert await b.update_run(changed(run, status="failed"), expect=["running"]) == 0
                assert await b.update_run(new_run()) == 0
                listed = await all_changes(b)
                assert [(c.position, c.run) for c in listed] == [(created, run)]

        self.run(main())

    def test_tree_changes(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                root = new_run(task="flow", status="running")
                root = changed(root, root_id=root.id)
                children = [
                    new_run(parent_id=root.id, root_id=root.id, task=f"step{i}") for i in range(4)
                ]
                nested = new_run(parent_id=children[1].id, root_id=root.id, task="nested")
                other = new_run()
                other = changed(other, root_id=other.id)
                for run in (root, other, *children, nested):
                    await b.create_run(run)
                done = changed(children[0], status="succeeded", finished_at=now())
                assert await b.update_run(done) > 0
                tree = await all_changes(b, root_id=root.id)
                assert [c.run.id for c in tree] == [
                    root.id,
                    *(c.id for c in children[1:]),
                    nested.id,
                    done.id,
                ]
                assert tree[-1].run == done
                # Under a run that is not a root: its own subtree.
                sub = await b.run_changes(0, 10, root_id=children[1].id)
                assert [c.run.id for c in sub] == [children[1].id, nested.id]
                positions = [c.position for c in tree]
                assert positions == sorted(positions)
                assert [c.run.id for c in await b.run_changes(0, 10, root_id=other.id)] == [
                    other.id
                ]
                assert await b.run_changes(0, 10, root_id="f" * 24) == []

        self.run(main())

    def test_positions_survive_reopen(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            runs = [new_run() for _ in range(5)]
            async with opened(make_backend) as b:
                for run in runs:
                    await b.create_run(run)
                await b.update_run(changed(runs[0], status="running"))
                before = await all_changes(b)
                last = await b.last_change()
            async with opened(make_backend) as b:
                assert await all_changes(b) == before
                assert await b.last_change() == last
                _, later = await b.create_run(new_run())
                assert later > last
                assert [c.position for c in await b.run_changes(last, 10)] == [later]

        self.run(main())

    def test_concurrent_writes_are_listed_in_position_order(
        self, make_backend: BackendMaker
    ) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                runs = [new_run() for _ in range(40)]
                created = await asyncio.gather(*(b.create_run(r) for r in runs))
                updated = await asyncio.gather(
                    *(b.update_run(changed(r, status="running"), expect=["queued"]) for r in runs)
                )
                positions = [p for _, p in created] + list(updated)
                assert len(set(positions)) == len(positions) and min(positions) > 0
                listed = await all_changes(b)
                assert [c.run.id for c in listed] == [
                    r.id for _, r in sorted(zip(updated, runs, strict=True))
                ]
                assert all(c.run.status == "running" for c in listed)

        self.run(main())

    def test_last_log_and_step_seq(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                run, other = new_run(), new_run()
                await b.create_run(run)
                assert await b.last_log_seq(run.id) == 0
                assert await b.last_step_seq(run.id) == 0
                await b.append_logs(run.id, lines("a", "b"))
                await b.append_logs(run.id, lines("c"))
                await b.append_steps(run.id, [new_step("s", "x")])
                await b.append_logs(other.id, lines("o"))
                assert await b.last_log_seq(run.id) == 3
                assert await b.last_step_seq(run.id) == 1
                assert await b.last_log_seq(other.id) == 1
                assert await b.last_step_seq(other.id) == 0
                assert await b.last_log_seq("0" * 24) == 0

        self.run(main())
