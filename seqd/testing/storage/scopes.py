"""Idempotency scopes: a key is unique within its scope, never across scopes.

Its own module because this is what keeps one user's keys from reaching another's
runs and a parent's children (``seqd.model.scopes``): the store must hold the pair, not
the key alone, under races and across a reopen, and refuse a key without a scope.
"""

from __future__ import annotations

import asyncio

import pytest

from seqd.errors import Conflict, ValidationFailed
from seqd.model.runs import RunQuery
from seqd.testing.storage.support import BackendMaker, Cases, changed, made, new_run, opened


class ScopeCases(Cases):
    """``create_run`` and ``update_run`` with (scope, key) pairs."""

    def test_same_key_in_two_scopes_makes_two_runs(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                mine = new_run(idempotency_key="k", idempotency_scope="uid:1000", input={"n": 1})
                theirs = new_run(idempotency_key="k", idempotency_scope="uid:1001", input={"n": 2})
                child = new_run(idempotency_key="k", idempotency_scope="run:abc", input={"n": 3})
                for run in (mine, theirs, child):
                    assert made(await b.create_run(run)) == (run, True)
                again = new_run(idempotency_key="k", idempotency_scope="uid:1001")
                assert made(await b.create_run(again)) == (theirs, False)
                assert (await b.get_run(child.id)) == child
                assert child.idempotency_scope == "run:abc"
            async with opened(make_backend) as b:  # the pair, not the key, after a reopen
                again = new_run(idempotency_key="k", idempotency_scope="run:abc")
                assert made(await b.create_run(again)) == (child, False)
                fresh = new_run(idempotency_key="k", idempotency_scope="system")
                assert made(await b.create_run(fresh)) == (fresh, True)

        self.run(main())

    def test_races_in_many_scopes_make_one_run_each(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                runs = [
                    new_run(idempotency_key="race", idempotency_scope=f"uid:{i % 5}")
                    for i in range(40)
                ]
                results = await asyncio.gather(*(b.create_run(r) for r in runs))
                created = [stored for stored, made in results if made]
                assert sorted(r.idempotency_scope or "" for r in created) == [
                    f"uid:{i}" for i in range(5)
                ]
                for run, (stored, _) in zip(runs, results, strict=True):
                    assert stored.idempotency_scope == run.idempotency_scope
                page = await b.list_runs(RunQuery(limit=100))
                assert len(page.runs) == 5

        self.run(main())

    def test_a_key_needs_a_scope(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                bare = new_run(idempotency_key="k", idempotency_scope=None)
                with pytest.raises(ValidationFailed) as info:
                    await b.create_run(bare)
                assert info.value.details["field"] == "idempotency_scope"
                assert await b.get_run(bare.id) is None
                run = new_run()
                await b.create_run(run)
                with pytest.raises(ValidationFailed):
                    await b.update_run(changed(run, idempotency_key="k"))

        self.run(main())

    def test_update_takes_a_key_only_where_it_is_free(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                holder = new_run(idempotency_key="k", idempotency_scope="uid:1")
                other = new_run()
                await b.create_run(holder)
                await b.create_run(other)
                with pytest.raises(Conflict):
                    await b.update_run(
                        changed(other, idempotency_key="k", idempotency_scope="uid:1")
                    )
                moved = changed(other, idempotency_key="k", idempotency_scope="uid:2")
                assert await b.update_run(moved) > 0
                taken = new_run(idempotency_key="k", idempotency_scope="uid:2")
                assert made(await b.create_run(taken)) == (moved, False)

        self.run(main())
