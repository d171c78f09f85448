"""The storage conformance suite: what every ``StorageBackend`` must do.

A backend plugin reuses it by subclassing ``StorageConformance`` in a test module and
providing a ``make_backend`` fixture: a function that returns a new, *unopened* backend
on the same store each time it is called (the suite opens and closes them itself, and
calls it twice to check that data survives a close and a reopen)::

    import pytest
    from seqd.plugins.storage import StorageContext
    from seqd.testing.storage import BackendMaker, StorageConformance

    class TestMyBackend(StorageConformance):
        @pytest.fixture
        def make_backend(self, tmp_path) -> BackendMaker:
            context = StorageContext(state_dir=str(tmp_path), durability="normal")
            return lambda: MyFactory().create({}, context)

        @pytest.fixture
        def store_spec(self, tmp_path) -> StoreSpec:
            # the same store, for a child process that is SIGKILLed mid-write
            return StoreSpec(name="mine", options={}, state_dir=str(tmp_path))

Tests are plain functions that drive coroutines on a fresh uvloop loop, each bounded by
``timeout_s`` so a hang fails instead of stalling the run.
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, ClassVar, TypeVar

import msgspec
import pytest
import uvloop

from seqd.errors import ValidationFailed
from seqd.model.ids import IdGenerator
from seqd.model.runs import (
    LogStream,
    NewLogLine,
    NewStep,
    Resources,
    Run,
    RunError,
    RunQuery,
    RunStatus,
)
from seqd.model.status import RUN_STATUSES, UNFINISHED
from seqd.model.timeutil import now
from seqd.plugins.storage import StorageBackend

logger = logging.getLogger(__name__)

T = TypeVar("T")
B = TypeVar("B", bound=StorageBackend)
BackendMaker = Callable[[], StorageBackend]


class StoreSpec(msgspec.Struct):
    """How another process opens the same store: a backend name (installed, found
    through the plugin host), its options, a state dir and the durability."""

    name: str
    options: dict[str, Any]
    state_dir: str
    durability: str = "normal"


def run_async(coro: Coroutine[Any, Any, T], timeout_s: float = 60.0) -> T:
    """Run ``coro`` to completion on a new uvloop loop (the daemon's loop)."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout_s)

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(bounded())


@asynccontextmanager
async def opened(make_backend: Callable[[], B]) -> AsyncIterator[B]:
    """Open a backend from ``make_backend`` for the block, and close it after."""
    backend = make_backend()
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()


_IDS = IdGenerator()


def new_run(task: str = "t", status: RunStatus = "queued", **fields: Any) -> Run:
    """A run with a fresh id (ids from one generator increase with time)."""
    return Run(id=_IDS.new(), task=task, status=status, created_at=now(), **fields)


def lines(*texts: str, stream: LogStream = "stdout") -> list[NewLogLine]:
    return [NewLogLine(ts=now(), stream=stream, text=text) for text in texts]


def new_step(kind: str, key: str, **fields: Any) -> NewStep:
    return NewStep(ts=now(), kind=kind, key=key, **fields)


def changed(run: Run, **changes: Any) -> Run:
    """A copy of ``run`` with ``changes`` applied (the record a writer would store)."""
    return msgspec.structs.replace(run, **changes)


async def all_pages(backend: StorageBackend, query: RunQuery) -> list[str]:
    """Every id the cursor chain yields, in order; fails on a cursor loop."""
    ids: list[str] = []
    cursor: str | None = None
    for _ in range(10_000):
        page = await backend.list_runs(msgspec.structs.replace(query, cursor=cursor))
        assert len(page.runs) <= query.limit
        ids.extend(r.id for r in page.runs)
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor
    raise AssertionError("list_runs cursors never ended")


class StorageConformance:
    """Base class of the suite; a subclass provides the ``make_backend`` fixture."""

    timeout_s: ClassVar[float] = 60.0

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return run_async(coro, self.timeout_s)

    @pytest.fixture
    def store_spec(self) -> StoreSpec:
        """Override: the same store as ``make_backend``, as a ``StoreSpec``."""
        pytest.fail(f"{type(self).__name__} must provide a store_spec fixture")

    # -- crashes ----------------------------------------------------------------------

    def test_killed_writer_leaves_readable_store(
        self, make_backend: BackendMaker, store_spec: StoreSpec
    ) -> None:
        """A process SIGKILLed in the middle of heavy, concurrent writing leaves a store
        that opens and holds every write it had been told was done."""
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "seqd.testing.crash_writer",
                msgspec.json.encode(store_spec).decode(),
            ],
            stdout=subprocess.PIPE,
        )
        seen: list[bytes] = []
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == b"open"
            deadline = time.monotonic() + 20
            updated = 0
            for line in child.stdout:
                seen.append(line)
                updated += line.startswith(b"u ")
                if updated >= 300 or time.monotonic() > deadline:
                    break
            child.send_signal(signal.SIGKILL)
            rest, _ = child.communicate(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        # Each line was printed after its write was acknowledged; a torn last line is
        # dropped by the split.
        acked = [ln.split() for ln in b"".join([*seen, rest]).decode().split("\n")[:-1]]
        created = {f[1] for f in acked if f[0] == "c"}
        done = {f[1] for f in acked if f[0] == "u"}
        logged: dict[str, int] = {}
        for f in acked:
            if f[0] == "l":
                logged[f[1]] = max(logged.get(f[1], 0), int(f[2]))
        assert done, "the writer acknowledged nothing before it was killed"

        async def check() -> None:
            async with opened(make_backend) as backend:
                for run_id in created:
                    run = await backend.get_run(run_id)
                    assert run is not None, f"acknowledged create of {run_id} was lost"
                    if run_id in done:
                        assert run.status == "succeeded", run
                for run_id, last in logged.items():
                    got = await backend.read_logs(run_id, 0, last + 100)
                    assert [x.seq for x in got[:last]] == list(range(1, last + 1))
                # the store still takes writes, and lists what it holds
                fresh = new_run(task="crash0")
                assert (await backend.create_run(fresh))[1]
                listed = await all_pages(backend, RunQuery(task="crash0", limit=100))
                assert fresh.id in listed

        self.run(check())

    # -- runs: round trip, idempotency, compare-and-set ------------------------------

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
            node="node-1",
            submitted_by=1000,
            resources=Resources(cpu_s=1.25, peak_rss_bytes=123456789),
            pid=4321,
        )

        async def main() -> None:
            async with opened(make_backend) as b:
                assert await b.create_run(parent) == (parent, True)
                stored, created = await b.create_run(run)
                assert created and stored == run
                assert await b.get_run(run.id) == run
                assert await b.get_run(parent.id) == parent
                assert await b.get_run("0" * 24) is None

        self.run(main())

    def test_idempotency_key_returns_existing(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                first = new_run(idempotency_key="once", input={"n": 1})
                assert await b.create_run(first) == (first, True)
                second = new_run(idempotency_key="once", input={"n": 2})
                existing, created = await b.create_run(second)
                assert not created and existing == first
                assert await b.get_run(second.id) is None
                # Runs without a key never collide.
                for _ in range(3):
                    run = new_run()
                    assert await b.create_run(run) == (run, True)
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
                assert await b.update_run(running) is True
                assert await b.get_run(run.id) == running
                assert await b.update_run(new_run()) is False  # never created
                assert await b.update_run(new_run(), expect=["queued"]) is False

        self.run(main())

    def test_update_compare_and_set(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                run = new_run(status="running")
                await b.create_run(run)
                done = changed(run, status="succeeded", output=1, finished_at=now())
                assert await b.update_run(done, expect=["running"]) is True
                # A stale writer that still believes the run is running loses.
                stale = changed(run, status="failed")
                assert await b.update_run(stale, expect=["queued", "running"]) is False
                assert await b.update_run(stale, expect=[]) is False
                assert await b.get_run(run.id) == done
                assert await b.update_run(stale, expect=["succeeded"]) is True
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
                assert won.count(True) == 1
                assert await b.get_run(run.id) == attempts[won.index(True)]

        self.run(main())

    # -- listing ---------------------------------------------------------------------

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

    # -- logs ------------------------------------------------------------------------

    def test_logs_append_and_read(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                run, other = new_run(), new_run()
                first = lines("one", "deux", "три")
                assert await b.append_logs(run.id, first) == 3
                second = lines("x" * 100_000, "🚀 end", stream="stderr")
                assert await b.append_logs(run.id, second) == 5
                assert await b.append_logs(other.id, lines("other")) == 1
                got = await b.read_logs(run.id, 0, 100)
                assert [line.seq for line in got] == [1, 2, 3, 4, 5]
                sent = first + second
                assert [(g.ts, g.stream, g.text) for g in got] == [
                    (s.ts, s.stream, s.text) for s in sent
                ]
                assert [line.seq for line in await b.read_logs(run.id, 2, 2)] == [3, 4]
                assert [line.seq for line in await b.read_logs(run.id, 4, 100)] == [5]
                assert await b.read_logs(run.id, 5, 100) == []
                assert await b.read_logs("0" * 24, 0, 100) == []
                other_lines = await b.read_logs(other.id, 0, 10)
                assert [(g.seq, g.text) for g in other_lines] == [(1, "other")]

        self.run(main())

    # -- journal ---------------------------------------------------------------------

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

    def test_concurrent_log_appenders(self, make_backend: BackendMaker) -> None:
        appenders, batches, size = 4, 15, 3

        async def main() -> None:
            async with opened(make_backend) as b:
                runs = [new_run() for _ in range(8)]

                async def append(run_id: str, who: int) -> list[tuple[int, list[str]]]:
                    done: list[tuple[int, list[str]]] = []
                    for i in range(batches):
                        texts = [f"{who}:{i}:{j}" for j in range(size)]
                        done.append((await b.append_logs(run_id, lines(*texts)), texts))
                    return done

                work = [(r.id, w) for r in runs for w in range(appenders)]
                results = await asyncio.gather(*(append(rid, w) for rid, w in work))
                for run in runs:
                    got = await b.read_logs(run.id, 0, 10_000)
                    total = appenders * batches * size
                    assert [line.seq for line in got] == list(range(1, total + 1))
                    by_seq = {line.seq: line.text for line in got}
                    for (rid, _), done in zip(work, results, strict=True):
                        if rid != run.id:
                            continue
                        for last, texts in done:  # each batch is contiguous, ending at last
                            seqs = range(last - size + 1, last + 1)
                            assert [by_seq[s] for s in seqs] == texts

        self.run(main())

    # -- concurrency and durability ----------------------------------------------------

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
                assert await b.create_run(again) == (runs[5], False)
                assert (await b.count_by_status()).get("queued") == 19

        self.run(main())

    # -- key-value state ------------------------------------------------------------

    def test_kv_set_get_delete(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                assert await b.kv_get("ns", "a") is None
                value = {"n": 1, "list": [1, "two", None], "text": "nul\x00 ü ☃"}
                entry = await b.kv_set("ns", "a", value)
                assert (entry.namespace, entry.key, entry.value) == ("ns", "a", value)
                assert await b.kv_get("ns", "a") == entry
                assert await b.kv_get("other", "a") is None  # namespaces are apart
                null = await b.kv_set("ns", "null", None)  # a stored null is not "absent"
                assert await b.kv_get("ns", "null") == null
                newer = await b.kv_set("ns", "a", 2)
                assert newer.updated_at >= entry.updated_at
                assert (await b.kv_get("ns", "a")) == newer
                assert await b.kv_delete("ns", "a") is True
                assert await b.kv_delete("ns", "a") is False
                assert await b.kv_get("ns", "a") is None
            async with opened(make_backend) as b:  # durable across a reopen
                assert await b.kv_get("ns", "null") == null

        self.run(main())

    def test_kv_list_prefix_and_pages(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                keys = ["a", "a/1", "a/2", "a/10", "a0", "b", "é", "☃/x", "a/\U0001f600"]
                for i, key in enumerate(keys):
                    await b.kv_set("ns", key, i)
                await b.kv_set("elsewhere", "a/1", "x")
                listed = [e.key for e in await b.kv_list("ns")]
                assert listed == sorted(keys)
                under = [e.key for e in await b.kv_list("ns", prefix="a/")]
                assert under == sorted(k for k in keys if k.startswith("a/"))
                # pages by ``after``: every key once, in order
                seen: list[str] = []
                after: str | None = None
                while True:
                    page = await b.kv_list("ns", prefix="a", after=after, limit=2)
                    if not page:
                        break
                    assert len(page) <= 2
                    seen.extend(e.key for e in page)
                    after = page[-1].key
                assert seen == sorted(k for k in keys if k.startswith("a"))
                assert await b.kv_list("ns", prefix="zzz") == []
                assert await b.kv_list("ns", limit=0) == []
                values = {e.key: e.value for e in await b.kv_list("ns")}
                assert values == {k: i for i, k in enumerate(keys)}

        self.run(main())

    def test_kv_namespaces_lists_those_with_keys(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                assert await b.kv_namespaces() == []
                for namespace in ("task/b", "global", "task/a ü", "task/b"):
                    await b.kv_set(namespace, "k", 1)
                await b.kv_set("task/empty", "gone", 1)
                await b.kv_delete("task/empty", "gone")
                assert await b.kv_namespaces() == ["global", "task/a ü", "task/b"]

        self.run(main())

    def test_kv_refuses_bad_names(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                for namespace, key in (("", "k"), ("ns", ""), ("ns", "a\x00b"),
                                       ("ns", "x" * 10_000), ("ns", "\ud800")):  # fmt: skip
                    with pytest.raises(ValidationFailed):
                        await b.kv_set(namespace, key, 1)
                    with pytest.raises(ValidationFailed):
                        await b.kv_get(namespace, key)
                # path-like keys are just text
                await b.kv_set("../../etc", "../passwd", "x")
                assert (await b.kv_get("../../etc", "../passwd")) is not None

        self.run(main())

    def test_kv_concurrent_writers(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:

                async def writer(w: int) -> None:
                    for i in range(20):
                        await b.kv_set("race", f"k{w}", i)
                        await b.kv_set("race", "shared", [w, i])

                await asyncio.gather(*(writer(w) for w in range(6)))
                for w in range(6):
                    assert (await b.kv_get("race", f"k{w}")).value == 19  # type: ignore[union-attr]
                shared = await b.kv_get("race", "shared")
                assert shared is not None and shared.value[1] == 19
                assert len(await b.kv_list("race", limit=100)) == 7

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
