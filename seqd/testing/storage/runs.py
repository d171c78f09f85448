"""Run records: round trip, idempotency keys, replacing and compare-and-set.

Its own module because these are the guarantees the engine's correctness rests on: a
run reads back exactly as written, an idempotency key makes one run however many
submit it at once, and a stale writer can never move a run backwards.
"""

from __future__ import annotations

import asyncio

from seqd.model.runs import Resources, RunError, RunQuery, RunStatus
from seqd.model.timeutil import now
from seqd.plugins.storage import StorageBackend
from seqd.testing.storage.support import BackendMaker, Cases, changed, new_run, opened


class RunCases(Cases):
    """``create_run``, ``get_run`` and ``update_run``."""

    def test_implements_protocol(self, make_backend: BackendMaker) -> None:
        backend = make_backend()
        assert isinstance(backend, StorageBackend)
        assert backend.name and isinstance(backend.name, str)
        assert backend.location and isinstance(backend.location, str)

    def test_create_get_round_trip(self, make_backend: BackendMaker) -> None:
        parent = new_run(status="running")
        run = new_run(
            task="round.trip",
            status="failed",
            input={"name": "José 🚀 名前", "nul": "a\x00b", "nested": {"l": [1, 2.5, None, True]}},
            output={"big": "é" * 500_000 + "x" * 100_000, "n": -(2**62)},
            error=RunError(type="exception", message="boom ✗", details={"line": 3}),
            parent_id=parent.id,
            root_id=parent.id,
            attempt=2,
            task_version="v1",
            priority=5,
            idempotency_key="key-Ω",
            started_at=now(),
            finished_at=now(),
            running_s=0.123456,
            node="node-1",
            submitted_by=1000,
            resources=Resources(cpu_s=1.25, peak_rss_bytes=123456789),
            pid=4321,
        )

        async def main() -> None:
            async with opened(make_backend) as b:
                assert (await b.create_run(parent))[1] > 0
                stored, position = await b.create_run(run)
                assert position > 0 and stored == run
                assert await b.get_run(run.id) == run
                assert await b.get_run(parent.id) == parent
                assert await b.get_run("0" * 24) is None

        self.run(main())

    def test_idempotency_key_returns_existing(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                first = new_run(idempotency_key="once", input={"n": 1})
                assert (await b.create_run(first))[1] > 0
                second = new_run(idempotency_key="once", input={"n": 2})
                existing, position = await b.create_run(second)
                assert position == 0 and existing == first
                assert await b.get_run(second.id) is None
                # Runs without a key never collide.
                for _ in range(3):
                    run = new_run()
                    stored, position = await b.create_run(run)
                    assert stored == run and position > 0
                assert (await b.count_by_status()).get("queued") == 4

        self.run(main())

    def test_idempotency_key_is_race_free(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                runs = [new_run(idempotency_key="race") for _ in range(50)]
                results = await asyncio.gather(*(b.create_run(r) for r in runs))
                winners = [stored for stored, created in results if created]
                assert len(winners) == 1
                assert {stored.id for stored, _ in results} == {winners[0].id}
                page = await b.list_runs(RunQuery(limit=100))
                assert [r.id for r in page.runs] == [winners[0].id]

        self.run(main())

    def test_update_replaces_record(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                run = new_run()
                await b.create_run(run)
                running = changed(run, status="running", started_at=now(), pid=99)
                assert await b.update_run(running) > 0
                assert await b.get_run(run.id) == running
                assert await b.update_run(new_run()) == 0  # never created
                assert await b.update_run(new_run(), expect=["queued"]) == 0

        self.run(main())

    def test_update_compare_and_set(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                run = new_run(status="running")
                await b.create_run(run)
                done = changed(run, status="succeeded", output=1, finished_at=now())
                assert await b.update_run(done, expect=["running"]) > 0
                # A stale writer that still believes the run is running loses.
                stale = changed(run, status="failed")
                assert await b.update_run(stale, expect=["queued", "running"]) == 0
                assert await b.update_run(stale, expect=[]) == 0
                assert await b.get_run(run.id) == done
                assert await b.update_run(stale, expect=["succeeded"]) > 0
                assert (await b.get_run(run.id)) == stale

        self.run(main())

    def test_concurrent_compare_and_set_has_one_winner(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                run = new_run(status="running")
                await b.create_run(run)
                endings: list[RunStatus] = ["succeeded", "failed", "cancelled"] * 10
                attempts = [changed(run, status=s, output=i) for i, s in enumerate(endings)]
                won = await asyncio.gather(*(b.update_run(a, expect=["running"]) for a in attempts))
                winners = [i for i, position in enumerate(won) if position > 0]
                assert len(winners) == 1
                assert await b.get_run(run.id) == attempts[winners[0]]

        self.run(main())
