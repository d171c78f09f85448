"""Concurrency and durability: many writers at once, reads after writes, reopening
and closing with writes in flight.

Its own module because these cases cut across records: what the store promises about
time (a read issued after an awaited write sees it) and about its own lifetime
(everything acknowledged survives a close and a reopen).
"""

from __future__ import annotations

import asyncio

from seqd.model.runs import RunQuery
from seqd.model.timeutil import now
from seqd.testing.storage.support import (
    BackendMaker,
    Cases,
    all_pages,
    changed,
    lines,
    new_run,
    opened,
)


class DurabilityCases(Cases):
    """Across every kind of record: concurrency, read-your-writes, close and reopen."""

    def test_many_concurrent_creates(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                runs = [new_run(input={"i": i}) for i in range(500)]
                results = await asyncio.gather(*(b.create_run(r) for r in runs))
                assert all(created for _, created in results)
                assert (await b.count_by_status()).get("queued") == 500
                listed = await all_pages(b, RunQuery(limit=200))
                assert listed == sorted((r.id for r in runs), reverse=True)
                for run in runs[::50]:
                    assert await b.get_run(run.id) == run

        self.run(main())

    def test_read_sees_awaited_write(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:

                async def lifecycle(worker: int) -> None:
                    for _ in range(25):
                        run = new_run(task=f"w{worker}")
                        await b.create_run(run)
                        assert await b.get_run(run.id) == run
                        running = changed(run, status="running", started_at=now())
                        assert await b.update_run(running, expect=["queued"])
                        assert await b.get_run(run.id) == running
                        done = changed(running, status="succeeded", output=worker)
                        assert await b.update_run(done, expect=["running"])
                        assert await b.get_run(run.id) == done
                        listed = await b.list_runs(RunQuery(task=f"w{worker}", limit=1))
                        assert listed.runs == [done]

                await asyncio.gather(*(lifecycle(w) for w in range(8)))
                assert (await b.count_by_status()).get("succeeded") == 200

        self.run(main())

    def test_reopen_keeps_everything(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                runs = [new_run(idempotency_key=f"k{i}") for i in range(20)]
                for run in runs:
                    await b.create_run(run)
                done = changed(runs[0], status="succeeded", output={"ok": True})
                await b.update_run(done)
                await b.append_logs(runs[1].id, lines("a", "b"))
            async with opened(make_backend) as b:
                assert await b.get_run(runs[0].id) == done
                for run in runs[1:]:
                    assert await b.get_run(run.id) == run
                assert [g.text for g in await b.read_logs(runs[1].id, 0, 10)] == ["a", "b"]
                assert await b.append_logs(runs[1].id, lines("c")) == 3
                again = new_run(idempotency_key="k5")
                assert await b.create_run(again) == (runs[5], 0)
                assert (await b.count_by_status()).get("queued") == 19

        self.run(main())

    def test_close_keeps_acknowledged_writes(self, make_backend: BackendMaker) -> None:
        """Writes in flight when close() is called either finish or fail — none hangs,
        and every acknowledged one is there after a reopen."""

        async def main() -> None:
            runs = [new_run() for _ in range(200)]
            backend = make_backend()
            await backend.open()
            pending = [asyncio.ensure_future(backend.create_run(r)) for r in runs]
            await asyncio.sleep(0)
            await backend.close()
            results = await asyncio.gather(*pending, return_exceptions=True)
            acknowledged = [
                r
                for r, res in zip(runs, results, strict=True)
                if not isinstance(res, BaseException)
            ]
            async with opened(make_backend) as b:
                for run in acknowledged:
                    assert await b.get_run(run.id) == run

        self.run(main())
