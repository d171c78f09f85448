"""Schedules: their records, and the runs they started.

Its own module because the scheduler's exactly-once rests on these: a schedule (with
its cursor) reads back exactly as it was saved, also after a reopen, and "the runs of
schedule S, newest first" is a listing like the others, paged and combinable with the
other filters, whatever the store keeps underneath.
"""

from __future__ import annotations

import msgspec
import pytest

from seqd.errors import ValidationFailed
from seqd.model.runs import RunQuery
from seqd.model.schedules import Schedule
from seqd.model.timeutil import now
from seqd.testing.storage.support import BackendMaker, Cases, all_pages, changed, new_run, opened


def new_schedule(name: str, **fields: object) -> Schedule:
    stamp = now()
    values: dict[str, object] = {
        "task": "t",
        "cron": "0 3 * * *",
        "created_at": stamp,
        "updated_at": stamp,
        "cursor": stamp,
        **fields,
    }
    return Schedule(name=name, **values)  # type: ignore[arg-type]


class ScheduleCases(Cases):
    """``save_schedule``, ``get_schedule``, ``list_schedules``, ``delete_schedule``, and
    ``list_runs`` by schedule."""

    def test_schedule_round_trip_and_replace(self, make_backend: BackendMaker) -> None:
        full = new_schedule(
            "nightly",
            input={"name": "José 🚀", "nul": "a\x00b", "n": [1, 2.5, None]},
            tz="Europe/Berlin",
            start="2030-01-01T00:00:00Z",
            end="2031-01-01T00:00:00+01:00",
            jitter_s=2.5,
            overlap="queue",
            misfire="catch_up",
            catch_up=3,
            paused=True,
            origin="config",
            created_by=1000,
            queued=["2030-01-02T02:00:00.000000Z"],
        )

        async def main() -> None:
            async with opened(make_backend) as b:
                assert await b.get_schedule("nightly") is None
                await b.save_schedule(full)
                assert await b.get_schedule("nightly") == full
                moved = msgspec.structs.replace(
                    full, cursor="2030-01-03T02:00:00.000000Z", queued=[]
                )
                await b.save_schedule(moved)
                assert await b.get_schedule("nightly") == moved
                assert await b.list_schedules() == [moved]

        self.run(main())

    def test_schedules_list_by_name_and_delete(self, make_backend: BackendMaker) -> None:
        names = ["b", "a/x", "a", "é-ü", "a-b", "Z", "t/" + "n" * 250, "with space"]

        async def main() -> None:
            async with opened(make_backend) as b:
                for name in names:
                    await b.save_schedule(new_schedule(name, every="90s"))
                listed = [s.name for s in await b.list_schedules()]
                assert listed == sorted(names)  # code point order
                assert await b.delete_schedule("a") is True
                assert await b.delete_schedule("a") is False
                assert await b.get_schedule("a") is None
                assert await b.get_schedule("a/x") is not None
                assert [s.name for s in await b.list_schedules()] == sorted(set(names) - {"a"})

        self.run(main())

    def test_schedules_survive_reopen(self, make_backend: BackendMaker) -> None:
        kept = new_schedule("kept", at="2030-01-01T09:00:00Z")

        async def write() -> None:
            async with opened(make_backend) as b:
                await b.save_schedule(kept)
                await b.save_schedule(new_schedule("gone"))
                assert await b.delete_schedule("gone")

        async def read() -> None:
            async with opened(make_backend) as b:
                assert await b.list_schedules() == [kept]
                assert await b.get_schedule("kept") == kept

        self.run(write())
        self.run(read())

    def test_schedule_names_are_checked(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                for bad in ("", "a\x00b", "x" * 301):
                    with pytest.raises(ValidationFailed):
                        await b.save_schedule(new_schedule(bad))
                    with pytest.raises(ValidationFailed):
                        await b.get_schedule(bad)
                    with pytest.raises(ValidationFailed):
                        await b.delete_schedule(bad)
                assert await b.list_schedules() == []

        self.run(main())

    def test_runs_listed_by_schedule(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                mine = []
                for i in range(7):
                    due = f"2030-01-01T0{i}:00:00.000000Z"
                    run = new_run(
                        task="a" if i % 2 else "b",
                        schedule="s/nightly",
                        scheduled_for=due,
                        idempotency_key=f"schedule:s/nightly@{due}",
                    )
                    await b.create_run(run)
                    mine.append(run)
                    await b.create_run(new_run(task="a", schedule="other"))
                    await b.create_run(new_run(task="a"))
                assert await b.get_run(mine[0].id) == mine[0]
                newest_first = [r.id for r in reversed(mine)]
                query = RunQuery(schedule="s/nightly", limit=3)
                assert await all_pages(b, query) == newest_first
                both = RunQuery(schedule="s/nightly", task="a", limit=2)
                assert await all_pages(b, both) == [r.id for r in reversed(mine) if r.task == "a"]
                # A status change keeps the run in its schedule's listing.
                await b.update_run(changed(mine[3], status="succeeded"), expect=["queued"])
                done = RunQuery(schedule="s/nightly", status="succeeded")
                assert [r.id for r in (await b.list_runs(done)).runs] == [mine[3].id]
                assert (await b.list_runs(RunQuery(schedule="none"))).runs == []

        self.run(main())
