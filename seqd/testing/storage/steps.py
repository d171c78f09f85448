"""Run journals: numbering, raw JSON data, renumbering on import, reopening.

Its own module because the journal is what a resumed run replays from: entries come
back exactly as appended (``msgspec.Raw`` data as the JSON it holds), numbered by the
store and never by the seq an imported entry carried.
"""

from __future__ import annotations

import asyncio

import msgspec

from seqd.testing.storage.support import BackendMaker, Cases, new_run, new_step, opened


class StepCases(Cases):
    """``append_steps`` and ``read_steps``."""

    def test_steps_append_and_read(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                run, other = new_run(), new_run()
                first = [
                    new_step("transition", "t1", data={"from": None, "to": "fetch"}),
                    new_step("child", "fetch#1", name="fetch", data={"child_id": "x" * 24}),
                ]
                assert await b.append_steps(run.id, first) == 2
                second = [
                    new_step(
                        "state",
                        "fetch#1",
                        name="fetch",
                        status="succeeded",
                        data={"output": {"rows": [1, 2, 3], "text": "🚀 ü"}, "n": 1.5},
                    )
                ]
                assert await b.append_steps(run.id, second) == 3
                assert await b.append_steps(other.id, [new_step("transition", "o")]) == 1
                got = await b.read_steps(run.id, 0, 100)
                assert [g.seq for g in got] == [1, 2, 3]
                sent = first + second
                assert [(g.ts, g.kind, g.key, g.name, g.status, g.data) for g in got] == [
                    (s.ts, s.kind, s.key, s.name, s.status, s.data) for s in sent
                ]
                assert [g.seq for g in await b.read_steps(run.id, 1, 1)] == [2]
                assert await b.read_steps(run.id, 3, 100) == []
                assert await b.read_steps(run.id, 0, 0) == []
                assert await b.read_steps("0" * 24, 0, 100) == []
                assert [g.key for g in await b.read_steps(other.id, 0, 10)] == ["o"]

        self.run(main())

    def test_steps_data_may_hold_raw_json(self, make_backend: BackendMaker) -> None:
        """Python tasks' results reach ``append_steps`` as the JSON bytes the worker
        encoded (``msgspec.Raw``): a backend stores them as that JSON."""

        async def main() -> None:
            async with opened(make_backend) as b:
                run = new_run()
                raw = msgspec.Raw(b'{"big":123456789012345678901234567890,"s":"\\u00e9"}')
                step = new_step("step", "py.1.1", name="s", data={"result": raw, "n": 1})
                assert await b.append_steps(run.id, [step]) == 1
                (got,) = await b.read_steps(run.id, 0, 10)
                assert got.data == {
                    "result": {"big": 123456789012345678901234567890, "s": "\u00e9"},
                    "n": 1,
                }

        self.run(main())

    def test_concurrent_step_appenders_keep_order(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                run = new_run()

                async def appender(name: str) -> None:
                    for i in range(10):
                        await b.append_steps(run.id, [new_step("step", f"{name}{i}")])

                await asyncio.gather(*(appender(n) for n in "abcd"))
                got = await b.read_steps(run.id, 0, 1000)
                assert [g.seq for g in got] == list(range(1, 41))
                for name in "abcd":
                    mine = [g.key for g in got if g.key.startswith(name)]
                    assert mine == [f"{name}{i}" for i in range(10)]

        self.run(main())

    def test_steps_read_back_are_renumbered_when_appended_again(
        self, make_backend: BackendMaker
    ) -> None:
        """An import appends the ``Step``s it read elsewhere (a ``Step`` is a
        ``NewStep``): the store numbers them afresh, never keeping their old ``seq``."""

        async def main() -> None:
            async with opened(make_backend) as b:
                source, target = new_run(), new_run()
                await b.append_steps(source.id, [new_step("s", f"k{i}") for i in range(5)])
                read = await b.read_steps(source.id, 2, 10)
                assert [s.seq for s in read] == [3, 4, 5]
                await b.append_steps(target.id, [new_step("s", "first")])
                assert await b.append_steps(target.id, read) == 4
                got = await b.read_steps(target.id, 0, 10)
                assert [(g.seq, g.key) for g in got] == [
                    (1, "first"),
                    (2, "k2"),
                    (3, "k3"),
                    (4, "k4"),
                ]
                assert [g.seq for g in await b.read_steps(target.id, 1, 10)] == [2, 3, 4]

        self.run(main())

    def test_steps_survive_reopen(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            run = new_run()
            async with opened(make_backend) as b:
                await b.create_run(run)
                await b.append_steps(run.id, [new_step("step", "a"), new_step("step", "b")])
            async with opened(make_backend) as b:
                assert [g.key for g in await b.read_steps(run.id, 0, 10)] == ["a", "b"]
                assert await b.append_steps(run.id, [new_step("step", "c")]) == 3

        self.run(main())
