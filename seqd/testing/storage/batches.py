"""Batches of runs: ``create_runs`` inserts all of its runs or none.

Its own module because a batch has rules of its own beyond ``create_run``'s: one
transaction for the lot, idempotency keys answered per run, and a refusal that names
the run of the batch and leaves nothing of it behind.
"""

from __future__ import annotations

import pytest

from seqd.errors import Conflict
from seqd.model.runs import Run, RunQuery
from seqd.plugins.storage import StorageBackend
from seqd.testing.storage.support import (
    BackendMaker,
    Cases,
    all_pages,
    changed,
    made,
    new_run,
    opened,
)


async def _none_stored(backend: StorageBackend, runs: list[Run]) -> None:
    for run in runs:
        assert await backend.get_run(run.id) is None, f"run {run.id} of a refused batch was stored"


class BatchCases(Cases):
    """``create_runs``."""

    def test_batch_round_trip(self, make_backend: BackendMaker) -> None:
        runs = [
            new_run(task="batch", input={"i": i, "text": "é" * i}, priority=i % 3)
            for i in range(250)
        ]

        async def main() -> None:
            async with opened(make_backend) as b:
                assert await b.create_runs([]) == []
                answer = await b.create_runs(runs)
                assert [made(a) for a in answer] == [(run, True) for run in runs]
            async with opened(make_backend) as b:  # and after a reopen
                for run in runs:
                    assert await b.get_run(run.id) == run
                listed = await all_pages(b, RunQuery(task="batch", limit=100))
                assert listed == sorted((r.id for r in runs), reverse=True)
                assert (await b.count_by_status()).get("queued") == len(runs)

        self.run(main())

    def test_batch_keys_answer_like_create_run(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                first = new_run(task="k", input={"n": 1}, idempotency_key="batch-1")
                assert (await b.create_run(first))[1]
                again = new_run(task="k", input={"n": 1}, idempotency_key="batch-1")
                other = new_run(task="k", input={"n": 2}, idempotency_key="batch-2")
                plain = new_run(task="k")
                answer = await b.create_runs([again, other, plain])
                assert [made(a) for a in answer] == [(first, False), (other, True), (plain, True)]
                assert await b.get_run(again.id) is None
                assert await b.get_run(other.id) == other
                # The whole batch again: nothing new, every run answered by its key.
                repeat = [
                    new_run(task="k", input={"n": 1}, idempotency_key="batch-1"),
                    new_run(task="k", input={"n": 2}, idempotency_key="batch-2"),
                ]
                answered = await b.create_runs(repeat)
                assert [made(a) for a in answered] == [(first, False), (other, False)]
                await _none_stored(b, repeat)

        self.run(main())

    def test_key_of_another_input_refuses_the_whole_batch(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                holder = new_run(task="k", input={"n": 1}, idempotency_key="held")
                await b.create_run(holder)
                batch = [
                    new_run(task="k", input={"n": 0}),
                    new_run(task="k", input={"n": 1}, idempotency_key="fresh"),
                    new_run(task="k", input={"n": 2}, idempotency_key="held"),
                ]
                with pytest.raises(Conflict) as caught:
                    await b.create_runs(batch)
                assert caught.value.details["index"] == 2
                assert caught.value.details["id"] == holder.id
                await _none_stored(b, batch)
                # The key "fresh" was not taken by the refused batch.
                retry = new_run(task="k", input={"n": 9}, idempotency_key="fresh")
                assert made(await b.create_run(retry)) == (retry, True)

        self.run(main())

    def test_key_twice_in_a_batch_is_refused(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                batch = [
                    new_run(task="k", idempotency_key="twice"),
                    new_run(task="k"),
                    new_run(task="k", idempotency_key="twice"),
                ]
                with pytest.raises(Conflict) as caught:
                    await b.create_runs(batch)
                assert caught.value.details["index"] == 2
                await _none_stored(b, batch)

        self.run(main())

    def test_existing_id_refuses_the_whole_batch(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                stored = new_run(task="k", input={"old": True})
                await b.create_run(stored)
                batch = [new_run(task="k"), changed(stored), new_run(task="k")]
                with pytest.raises(Conflict) as caught:
                    await b.create_runs(batch)
                assert caught.value.details["id"] == stored.id
                assert caught.value.details["index"] == 1
                await _none_stored(b, [batch[0], batch[2]])
                assert await b.get_run(stored.id) == stored

        self.run(main())
