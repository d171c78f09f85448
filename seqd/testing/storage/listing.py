"""Listing runs: order, filters, cursors, counts and the runs still to finish.

Its own module because these cases are about the indexes a store keeps, not the
records: newest first by id, every run exactly once across pages, and the unfinished
runs, oldest first, that a starting daemon recovers.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

from seqd.model.runs import Run, RunQuery, RunStatus
from seqd.model.status import RUN_STATUSES, UNFINISHED
from seqd.testing.storage.support import BackendMaker, Cases, all_pages, new_run, opened


class ListingCases(Cases):
    """``list_runs``, ``count_by_status`` and ``unfinished_runs``."""

    def test_list_newest_first(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                runs = [new_run() for _ in range(30)]
                shuffled = random.Random(7).sample(runs, len(runs))
                for run in shuffled:
                    await b.create_run(run)
                page = await b.list_runs(RunQuery(limit=100))
                assert [r.id for r in page.runs] == sorted((r.id for r in runs), reverse=True)
                assert page.next_cursor is None
                assert page.runs[0] == max(runs, key=lambda r: r.id)

        self.run(main())

    def test_list_filters(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                parent = new_run(task="flow", status="running")
                await b.create_run(parent)
                made = [parent]
                statuses: list[RunStatus] = ["queued", "running", "succeeded", "failed"]
                for i in range(40):
                    run = new_run(
                        task="a" if i % 2 else "b",
                        status=statuses[i % 4],
                        parent_id=parent.id if i % 5 == 0 else None,
                        root_id=parent.id if i % 5 == 0 else None,
                    )
                    await b.create_run(run)
                    made.append(run)

                def expected(pred: Callable[[Run], bool]) -> list[str]:
                    return sorted((r.id for r in made if pred(r)), reverse=True)

                async def ids(**q: Any) -> list[str]:
                    page = await b.list_runs(RunQuery(limit=1000, **q))
                    return [r.id for r in page.runs]

                assert await ids(task="a") == expected(lambda r: r.task == "a")
                assert await ids(status="failed") == expected(lambda r: r.status == "failed")
                assert await ids(parent_id=parent.id) == expected(
                    lambda r: r.parent_id == parent.id
                )
                assert await ids(task="b", status="running") == expected(
                    lambda r: r.task == "b" and r.status == "running"
                )
                assert await ids(task="nope") == []
                assert await ids(status="suspended") == []

        self.run(main())

    def test_pagination_covers_every_run_once(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                runs = [new_run(status="succeeded" if i % 3 else "failed") for i in range(237)]
                await asyncio.gather(*(b.create_run(r) for r in runs))
                everything = sorted((r.id for r in runs), reverse=True)
                assert await all_pages(b, RunQuery(limit=50)) == everything
                assert await all_pages(b, RunQuery(limit=237)) == everything
                assert await all_pages(b, RunQuery(limit=1)) == everything
                failed = sorted((r.id for r in runs if r.status == "failed"), reverse=True)
                assert await all_pages(b, RunQuery(status="failed", limit=7)) == failed
                first = await b.list_runs(RunQuery(limit=50))
                assert first.next_cursor == first.runs[-1].id

        self.run(main())

    def test_count_by_status(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                assert {k: v for k, v in (await b.count_by_status()).items() if v} == {}
                plan: dict[RunStatus, int] = {
                    "queued": 5,
                    "running": 3,
                    "succeeded": 7,
                    "cancelled": 1,
                }
                for status, n in plan.items():
                    for _ in range(n):
                        await b.create_run(new_run(status=status))
                counts = await b.count_by_status()
                assert {k: v for k, v in counts.items() if v} == plan

        self.run(main())

    def test_unfinished_runs_oldest_first(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                statuses = list(RUN_STATUSES)
                runs = [new_run(status=statuses[i % 6]) for i in range(36)]
                for run in reversed(runs):
                    await b.create_run(run)
                got = await b.unfinished_runs()
                want = [r for r in runs if r.status in UNFINISHED]
                assert [r.id for r in got] == [r.id for r in want]
                assert got == want

        self.run(main())
