"""Finding runs: by id prefix, only the roots, and how many children each run has.

Its own module because these are the reads behind run references (``01a2b3``,
``last``) and the default ``runs ls`` (runs without a parent, with a count of their
children): each must be an index walk, whatever the history holds.
"""

from __future__ import annotations

from seqd.model.runs import Run, RunQuery
from seqd.testing.storage.support import BackendMaker, Cases, all_pages, new_run, opened


class FindingCases(Cases):
    """``runs_by_prefix``, ``RunQuery.roots_only`` and ``count_children``."""

    def test_runs_by_prefix(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                runs = [new_run(task="p") for _ in range(40)]
                for run in runs:
                    await b.create_run(run)
                newest_first = sorted(runs, key=lambda r: r.id, reverse=True)
                # Every id is its own unique prefix, and longer than any other id.
                for run in runs[::7]:
                    assert await b.runs_by_prefix(run.id, 5) == [run]
                    assert await b.runs_by_prefix(run.id[:-1], 50) == [
                        r for r in newest_first if r.id.startswith(run.id[:-1])
                    ]
                shared = runs[0].id[:4]  # ids of one moment share their first digits
                found = await b.runs_by_prefix(shared, 1000)
                assert found == [r for r in newest_first if r.id.startswith(shared)]
                assert await b.runs_by_prefix(shared, 3) == found[:3]
                assert await b.runs_by_prefix(shared, 0) == []
                # The next prefix up holds none of them (the range's upper bound).
                above = shared[:-1] + format(int(shared[-1], 16) + 1, "x")
                assert all(not r.id.startswith(above) for r in await b.runs_by_prefix(above, 100))
                assert await b.runs_by_prefix("f" * 24, 10) == []

        self.run(main())

    def test_roots_only_and_children(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                made: list[Run] = []
                roots: list[Run] = []
                for i in range(12):
                    root = new_run(task="flow" if i % 2 else "plain")
                    await b.create_run(root)
                    made.append(root)
                    roots.append(root)
                    for _ in range(i % 4):
                        child = new_run(task="state", parent_id=root.id, root_id=root.id)
                        await b.create_run(child)
                        made.append(child)
                        grandchild = new_run(task="deep", parent_id=child.id, root_id=root.id)
                        await b.create_run(grandchild)
                        made.append(grandchild)
                want = sorted((r.id for r in roots), reverse=True)
                assert await all_pages(b, RunQuery(roots_only=True, limit=5)) == want
                flows = [r.id for r in roots if r.task == "flow"]
                got = await all_pages(b, RunQuery(roots_only=True, task="flow", limit=2))
                assert got == sorted(flows, reverse=True)
                assert await all_pages(b, RunQuery(roots_only=True, task="state")) == []
                every = await all_pages(b, RunQuery(limit=1000))
                assert len(every) == len(made)

                counts = await b.count_children([r.id for r in made] + ["0" * 24])
                for run in made:
                    n = sum(1 for r in made if r.parent_id == run.id)
                    assert counts.get(run.id, 0) == n, run
                assert await b.count_children([]) == {}
                many = [r.id for r in roots] * 100  # over any IN-list chunk
                assert {k: v for k, v in (await b.count_children(many)).items() if v} == {
                    r.id: sum(1 for c in made if c.parent_id == r.id)
                    for r in roots
                    if any(c.parent_id == r.id for c in made)
                }

        self.run(main())
