"""The file store: the shared conformance suite (both durability modes), then what only
the file store has — the layout on disk, path confinement, crash leftovers, torn logs
and journals, the sparse index, SIGKILL safety, a full or read-only file system, the
lock file."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from seqd.builtin.storage.fs.backend import FSBackend, FSStorageFactory
from seqd.builtin.storage.fs.files import Batch
from seqd.builtin.storage.fs.logs import JOURNALS, LOGS, STRIDE
from seqd.errors import StorageUnavailable, ValidationFailed
from seqd.model.runs import NewLogLine, NewStep, Run, RunQuery
from seqd.plugins.host import BUILTIN_PLUGINS, PluginHost
from seqd.plugins.storage import StorageContext
from seqd.testing.storage import (
    BackendMaker,
    StorageConformance,
    StoreSpec,
    changed,
    lines,
    new_run,
    new_step,
    opened,
    run_async,
)
from seqd.testing.storage.legacy import check_migrated, legacy_json, legacy_runs
from seqd.testing.storage.support import DEFAULT_SCOPE

ROOT = Path(__file__).resolve().parents[2]


def claim_digest(key: str, scope: str = DEFAULT_SCOPE) -> str:
    """The file name of the claim of ``key`` in ``scope`` under ``idempotency/``."""
    return hashlib.sha256(f"{scope}\x00{key}".encode()).hexdigest()


def make(state_dir: Path, durability: str = "normal", **options: Any) -> FSBackend:
    context = StorageContext(state_dir=str(state_dir), durability=durability)
    return FSStorageFactory().create(options, context)


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file())


class SeqKind:
    """Logs or journals, seen alike: both are seq files (``seqd.builtin.storage.fs.logs``),
    and each test of the machinery they share runs for both."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.fmt = LOGS if name == "log" else JOURNALS
        self.suffix = self.fmt.suffix

    def entries(self, *texts: str) -> list[NewLogLine] | list[NewStep]:
        if self.fmt is LOGS:
            return lines(*texts)
        return [new_step("step", text, data={"n": i}) for i, text in enumerate(texts)]

    async def append(self, b: FSBackend, run_id: str, *texts: str) -> int:
        entries = self.entries(*texts)
        if self.fmt is LOGS:
            return await b.append_logs(run_id, entries)  # type: ignore[arg-type]
        return await b.append_steps(run_id, entries)  # type: ignore[arg-type]

    async def read(self, b: FSBackend, run_id: str, after: int, limit: int) -> list[Any]:
        """(seq, text) pairs."""
        if self.fmt is LOGS:
            return [(g.seq, g.text) for g in await b.read_logs(run_id, after, limit)]
        return [(g.seq, g.key) for g in await b.read_steps(run_id, after, limit)]

    async def texts(self, b: FSBackend, run_id: str) -> list[str]:
        return [text for _, text in await self.read(b, run_id, 0, 10_000)]


@pytest.fixture(params=["log", "journal"])
def kind(request: pytest.FixtureRequest) -> SeqKind:
    return SeqKind(request.param)


class TestFSConformance(StorageConformance):
    @pytest.fixture
    def make_backend(self, tmp_path: Path) -> BackendMaker:
        return lambda: make(tmp_path / "state")

    @pytest.fixture
    def store_spec(self, tmp_path: Path) -> StoreSpec:
        return StoreSpec(name="fs", options={}, state_dir=str(tmp_path / "state"))


class TestFSConformanceFullDurability(StorageConformance):
    @pytest.fixture
    def make_backend(self, tmp_path: Path) -> BackendMaker:
        return lambda: make(tmp_path / "state", durability="full")

    @pytest.fixture
    def store_spec(self, tmp_path: Path) -> StoreSpec:
        return StoreSpec(
            name="fs", options={}, state_dir=str(tmp_path / "state"), durability="full"
        )


# -- plugin, options ------------------------------------------------------------------


def test_registered_through_the_plugin_host(tmp_path: Path) -> None:
    assert BUILTIN_PLUGINS["storage_fs"] == "seqd.builtin.storage.fs.backend"
    host = PluginHost()
    host.load(builtins=("storage_fs",), entry_points=False)
    factory = host.storage.get("fs")
    assert factory is not None and host.storage.owner("fs") == "storage_fs"
    context = StorageContext(state_dir=str(tmp_path), durability="normal")
    assert factory.create({}, context).location == str(tmp_path / "files")
    assert factory.create({"root": "sub/runs"}, context).location == str(tmp_path / "sub/runs")
    assert factory.create({"root": "/abs/store"}, context).location == "/abs/store"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"roots": "x"}, "backends.fs.roots"),
        ({"root": 5}, "backends.fs.root"),
        ({"root": ""}, "backends.fs.root"),
    ],
)
def test_bad_options_name_the_field(tmp_path: Path, options: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        make(tmp_path, **options)
    assert info.value.details["field"] == field
    assert field in info.value.message


def test_bad_durability_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed) as info:
        make(tmp_path, durability="fast")
    assert info.value.details["field"] == "durability"


# -- the layout on disk -------------------------------------------------------------------


def test_layout_is_plain_greppable_json(tmp_path: Path) -> None:
    root = tmp_path / "files"
    parent = new_run(task="flow.main", status="running")
    run = new_run(task="flow.main", parent_id=parent.id, root_id=parent.id, idempotency_key="k1")
    early = new_run(task="late.task")
    later = new_run(task="late.task")

    async def main() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            await b.create_run(parent)
            await b.create_run(run)
            done = changed(run, status="succeeded", output={"answer": 42})
            assert await b.update_run(done, expect=["queued"])
            assert await b.append_logs(run.id, lines("héllo", "wörld")) == 2
            # Lines of a run that does not exist yet wait under orphans/ ...
            assert await b.append_logs(early.id, lines("before")) == 1
            assert (root / "orphans" / f"{early.id}.log.jsonl").is_file()
            await b.create_run(early)  # ... and move next to it when it is created.
            assert await b.append_logs(early.id, lines("after")) == 2
            assert [g.text for g in await b.read_logs(early.id, 0, 10)] == ["before", "after"]
            assert await b.append_steps(run.id, [new_step("child", "fetch#1", name="fetch")]) == 1
            assert await b.append_steps(later.id, [new_step("transition", "t1")]) == 1
            assert (root / "orphans" / f"{later.id}.journal.jsonl").is_file()
            await b.create_run(later)
            assert [g.key for g in await b.read_steps(later.id, 0, 10)] == ["t1"]

    run_async(main())
    runs = root / "tasks" / "flow.main" / "runs"
    record = runs / f"{run.id}.json"
    with record.open() as f:
        stored = json.load(f)
    # The run as the API has it, plus the change position of its last write.
    assert stored.pop("change") > 0
    assert stored == msgspec.to_builtins(changed(run, status="succeeded", output={"answer": 42}))
    assert b'"status":"succeeded"' in record.read_bytes()  # grep finds it
    assert json.loads((runs / f"{parent.id}.json").read_text())["status"] == "running"
    log = [json.loads(line) for line in (runs / f"{run.id}.log.jsonl").read_text().splitlines()]
    assert [(e["seq"], e["stream"], e["text"]) for e in log] == [
        (1, "stdout", "héllo"),
        (2, "stdout", "wörld"),
    ]
    assert set(log[0]) == {"seq", "ts", "stream", "text"}
    journal = (runs / f"{run.id}.journal.jsonl").read_text()
    assert journal.startswith('{"seq":1,"ts":') and journal.count("\n") == 1
    step = json.loads(journal)
    assert (step["seq"], step["kind"], step["key"], step["name"]) == (
        1,
        "child",
        "fetch#1",
        "fetch",
    )
    assert (root / "tasks" / "late.task" / "runs" / f"{later.id}.journal.jsonl").is_file()
    claim = root / "idempotency" / claim_digest("k1")
    assert claim.read_text() == run.id
    moved = root / "tasks" / "late.task" / "runs" / f"{early.id}.log.jsonl"
    assert len(moved.read_text().splitlines()) == 2
    assert not list((root / "orphans").iterdir())
    assert not [p for p in files_under(tmp_path) if p.name.endswith(".tmp")]


HOSTILE_TASKS = [
    "../x",
    "..",
    ".",
    "a/b",
    "/abs",
    "../../../../../tmp/evil",
    "x\n",
    "",
    "A",
    "a\x00b",
    "-x",
    "a" * 129,
]


def test_hostile_names_never_escape_root(tmp_path: Path) -> None:
    state = tmp_path / "state"
    good = new_run(task="ok")

    async def main() -> None:
        async with opened(lambda: make(state)) as b:
            await b.create_run(good)
            for name in HOSTILE_TASKS:
                with pytest.raises(ValidationFailed) as info:
                    await b.create_run(new_run(task=name))
                assert info.value.details["field"] == "task"
                with pytest.raises(ValidationFailed):
                    await b.update_run(changed(good, task=name))
            for run_id in ["../x", "..", "ABC", "12/34", "x" * 24, "a" * 65, ""]:
                with pytest.raises(ValidationFailed) as info:
                    await b.create_run(changed(new_run(), id=run_id))
                assert info.value.details["field"] == "id"
                with pytest.raises(ValidationFailed):
                    await b.append_logs(run_id, lines("x"))
                with pytest.raises(ValidationFailed) as info:
                    await b.append_steps(run_id, [new_step("s", "x")])
                assert info.value.details["field"] == "id"
                assert await b.get_run(run_id) is None
                assert await b.read_logs(run_id, 0, 10) == []
                assert await b.read_steps(run_id, 0, 10) == []
                assert await b.update_run(changed(good, id=run_id)) == 0
            assert await b.get_run(good.id) == good
            assert (await b.list_runs(RunQuery(limit=100))).runs == [good]

    run_async(main())
    root = state / "files"
    assert all(root in p.parents for p in files_under(tmp_path)), files_under(tmp_path)
    assert sorted(p.name for p in (root / "tasks").iterdir()) == ["ok"]


def test_a_run_moving_to_another_task_takes_its_files(tmp_path: Path) -> None:
    root = tmp_path / "files"
    run = new_run(task="before")

    async def main() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            await b.create_run(run)
            await b.append_logs(run.id, lines("a", "b"))
            await b.append_steps(run.id, [new_step("s", "x")])
            assert await b.update_run(changed(run, task="after", status="running"))
            assert await b.get_run(run.id) == changed(run, task="after", status="running")
            assert await b.append_logs(run.id, lines("c")) == 3
            assert [g.key for g in await b.read_steps(run.id, 0, 10)] == ["x"]
            assert await b.append_steps(run.id, [new_step("s", "y")]) == 2
            page = await b.list_runs(RunQuery(task="after"))
            assert [r.id for r in page.runs] == [run.id]
            assert (await b.list_runs(RunQuery(task="before"))).runs == []
        async with opened(lambda: make(tmp_path)) as b:
            assert [g.text for g in await b.read_logs(run.id, 0, 10)] == ["a", "b", "c"]
            assert [g.key for g in await b.read_steps(run.id, 0, 10)] == ["x", "y"]
            assert (await b.get_run(run.id)) == changed(run, task="after", status="running")

    run_async(main())
    assert not list((root / "tasks" / "before" / "runs").iterdir())
    after = sorted(p.name for p in (root / "tasks" / "after" / "runs").iterdir())
    assert after == [f"{run.id}.journal.jsonl", f"{run.id}.json", f"{run.id}.log.jsonl"]


def test_run_files_of_an_older_seqd_are_numbered_at_open(tmp_path: Path) -> None:
    """Run files without a change position (written before seqd had them) get the next
    positions in id order at the first open, written into the files, so that they keep
    them; the store goes on after them."""
    runs = [new_run(task="old") for _ in range(3)]
    folder = tmp_path / "files" / "tasks" / "old" / "runs"
    folder.mkdir(parents=True)
    for run in runs:
        (folder / f"{run.id}.json").write_bytes(msgspec.json.encode(run) + b"\n")

    async def main() -> None:
        for _ in range(2):  # the same numbers again after a reopen
            async with opened(lambda: make(tmp_path)) as b:
                listed = await b.run_changes(0, 10)
                assert [(c.position, c.run) for c in listed] == list(enumerate(runs, 1))
                assert await b.last_change() == 3
        async with opened(lambda: make(tmp_path)) as b:
            assert await b.update_run(changed(runs[0], status="running")) == 4

    run_async(main())
    assert json.loads((folder / f"{runs[1].id}.json").read_text())["change"] == 2


# -- crash leftovers --------------------------------------------------------------------


def test_runs_from_before_scopes_get_theirs_at_open(tmp_path: Path) -> None:
    """Run files written before idempotency scopes are given their scope by the scan
    (the file store's migration), and claims follow: keys are unique per scope."""
    root = tmp_path / "files"
    old = legacy_runs()
    runs = root / "tasks" / "t" / "runs"
    runs.mkdir(parents=True)
    for run, _ in old:
        (runs / f"{run.id}.json").write_text(legacy_json(run) + "\n")

    async def main() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            await check_migrated(b, old)

    run_async(main())
    for run, scope in old:
        stored = json.loads((runs / f"{run.id}.json").read_text())
        assert stored.get("idempotency_scope") == scope
        if scope is not None:
            assert (root / "idempotency" / claim_digest(run.idempotency_key or "", scope)).exists()
    run_async(main())  # nothing left to migrate: the same answers


def test_leftovers_of_a_crash_are_cleaned_at_open(tmp_path: Path) -> None:
    root = tmp_path / "files"
    keyed = new_run(task="t", idempotency_key="kept")
    plain = new_run(task="t")

    async def first() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            await b.create_run(keyed)
            await b.create_run(plain)

    run_async(first())
    runs = root / "tasks" / "t" / "runs"
    claims = root / "idempotency"
    temps = [
        runs / f".{plain.id}.json.999.1.tmp",  # a rewrite the crash cut short
        runs / f".{new_run().id}.json.999.2.tmp",  # a create the crash cut short
        claims / ".deadbeef.999.3.tmp",
        root / "orphans" / ".x.log.jsonl.999.4.tmp",
    ]
    for temp in temps:
        temp.write_bytes(b'{"id": "half a rec')
    ghost = claims / claim_digest("ghost")
    ghost.write_text(new_run().id)  # claimed, then the run file was never written
    (claims / claim_digest("kept")).unlink()
    broken = new_run(task="t")
    (runs / f"{broken.id}.json").write_bytes(b"\x00" * 64)  # a torn write (power loss)
    (runs / "notes.txt").write_text("a human's file is left alone")

    async def reopen() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            assert await b.get_run(keyed.id) == keyed
            assert await b.get_run(plain.id) == plain
            assert await b.get_run(broken.id) is None
            assert (await b.count_by_status()) == {"queued": 2}
            again, created = await b.create_run(new_run(idempotency_key="kept"))
            assert (again, created) == (keyed, 0)
            fresh = new_run(idempotency_key="ghost")
            assert (await b.create_run(fresh))[1] > 0

    run_async(reopen())
    assert not any(t.exists() for t in temps)
    assert (claims / claim_digest("kept")).read_text() == keyed.id
    assert (runs / "notes.txt").exists()


def test_torn_tail_is_cut_at_open(tmp_path: Path, kind: SeqKind) -> None:
    run = new_run(task="t")
    path = tmp_path / "files" / "tasks" / "t" / "runs" / f"{run.id}{kind.suffix}"

    async def first() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            await b.create_run(run)
            assert await kind.append(b, run.id, "one", "two", "three") == 3

    run_async(first())
    good = path.read_bytes()
    # A garbage line (a power loss can leave zeros) and a half-written last line.
    path.write_bytes(good + b"\x00" * 40 + b"\n" + b'{"seq":5,"ts":"2026-01-01T00:')

    async def reopen() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            assert await kind.texts(b, run.id) == ["one", "two", "three"]
            assert path.read_bytes() == good
            assert await kind.append(b, run.id, "four") == 4
            assert await kind.read(b, run.id, 0, 10) == [
                (1, "one"),
                (2, "two"),
                (3, "three"),
                (4, "four"),
            ]

    run_async(reopen())


def test_a_torn_orphan_journal_is_cut_and_moves_to_its_run(tmp_path: Path) -> None:
    """Entries journaled before the run record existed survive a crash like any others."""
    run = new_run(task="t")
    orphan = tmp_path / "files" / "orphans" / f"{run.id}.journal.jsonl"
    home = tmp_path / "files" / "tasks" / "t" / "runs" / f"{run.id}.journal.jsonl"

    async def first() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            assert await b.append_steps(run.id, [new_step("s", "a"), new_step("s", "b")]) == 2

    run_async(first())
    good = orphan.read_bytes()
    orphan.write_bytes(good + b'{"seq":3,"ts":"20')

    async def reopen() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            assert orphan.read_bytes() == good
            await b.create_run(run)
            assert home.read_bytes() == good and not orphan.exists()
            assert await b.append_steps(run.id, [new_step("s", "c")]) == 3
        async with opened(lambda: make(tmp_path)) as b:
            assert [(g.seq, g.key) for g in await b.read_steps(run.id, 0, 10)] == [
                (1, "a"),
                (2, "b"),
                (3, "c"),
            ]

    run_async(reopen())


def test_long_files_are_read_through_a_sparse_index(tmp_path: Path, kind: SeqKind) -> None:
    """A flow mapping over 10,000 items journals tens of thousands of entries: a read
    "after N" seeks near N through the sparse index instead of reading from the start."""
    run = new_run(task="t")
    total = STRIDE * 3 + 500

    def check(got: list[Any], after: int, limit: int) -> None:
        want = list(range(after + 1, min(after + limit, total) + 1))
        assert got == [(s, f"entry {s}") for s in want]

    async def first() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            await b.create_run(run)
            for start in range(1, total + 1, 250):
                texts = [f"entry {s}" for s in range(start, min(start + 250, total + 1))]
                await kind.append(b, run.id, *texts)
            state = b.store.files[kind.suffix][run.id]
            assert [seq for seq, _ in state.marks] == [
                1,
                STRIDE + 1,
                2 * STRIDE + 1,
                3 * STRIDE + 1,
            ]
            for after, limit in [(0, 5), (999, 3), (1000, 2), (2999, 10), (3490, 50), (1500, 1200)]:
                check(await kind.read(b, run.id, after, limit), after, limit)

    async def reopened() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            state = b.store.files[kind.suffix][run.id]
            assert state.marks == [] and state.last_seq == total
            check(await kind.read(b, run.id, 10, 5), 10, 5)
            assert [seq for seq, _ in state.marks] == [1]  # learned only what it walked over
            check(await kind.read(b, run.id, 3200, 5), 3200, 5)
            assert [seq for seq, _ in state.marks] == [1, 1001, 2001, 3001]
            check(await kind.read(b, run.id, 2100, 7), 2100, 7)
            assert await kind.append(b, run.id, "entry 3501") == total + 1

    run_async(first())
    run_async(reopened())


def bytes_read_by_this_process() -> int:
    """``rchar`` of /proc/self/io: every byte this process's read calls returned."""
    with open("/proc/self/io", encoding="ascii") as f:
        for line in f:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def test_replaying_a_long_journal_page_by_page_is_not_quadratic(tmp_path: Path) -> None:
    """Paging through a 20,000-entry journal (a flow that mapped over 10,000 items),
    100 entries a read, right after a reopen (no index yet): each read starts near its
    first entry, so the bytes read grow with the journal's size, not with its square.
    Read from the start every time, it would be ~100 times the file; it stays ~25."""
    if not os.path.exists("/proc/self/io"):
        pytest.skip("no /proc/self/io here: cannot count the bytes read")
    run = new_run(task="t")
    total, page = 20_000, 100
    path = tmp_path / "files" / "tasks" / "t" / "runs" / f"{run.id}.journal.jsonl"

    async def main() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            await b.create_run(run)
            for start in range(0, total, 2000):
                await b.append_steps(
                    run.id,
                    [
                        new_step("item", f"map#{i}", data={"i": i})
                        for i in range(start, start + 2000)
                    ],
                )
        async with opened(lambda: make(tmp_path)) as b:
            size = path.stat().st_size
            before = bytes_read_by_this_process()
            after = 0
            while got := await b.read_steps(run.id, after, page):
                assert [g.seq for g in got] == list(range(after + 1, after + len(got) + 1))
                after = got[-1].seq
            read = bytes_read_by_this_process() - before
            assert after == total
            assert read < 40 * size, (read, size, read / size)

    run_async(main())


# -- concurrency ------------------------------------------------------------------------


def test_a_cancelled_caller_leaves_disk_and_index_in_step(tmp_path: Path) -> None:
    async def main() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            runs = [new_run() for _ in range(20)]
            pending = [asyncio.ensure_future(b.create_run(r)) for r in runs]
            await asyncio.sleep(0)
            for fut in pending:
                fut.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            assert await b.update_run(changed(runs[0], status="running"), expect=["queued"])
            for run in runs[1:]:
                assert await b.get_run(run.id) == run
            assert (await b.count_by_status()) == {"queued": 19, "running": 1}
        async with opened(lambda: make(tmp_path)) as b:
            assert (await b.count_by_status()) == {"queued": 19, "running": 1}

    run_async(main())


def test_queued_writes_run_as_one_batch(tmp_path: Path) -> None:
    async def main() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            writer = b.store.writer
            assert writer is not None
            entered, release = threading.Event(), threading.Event()

            def park(batch: Batch) -> None:
                entered.set()
                release.wait(30)

            parked = writer.submit(park)
            assert await asyncio.to_thread(entered.wait, 30)
            runs = [new_run() for _ in range(300)]
            pending = [asyncio.ensure_future(b.create_run(r)) for r in runs]
            for _ in range(5):
                await asyncio.sleep(0)
            batches = writer.batches
            release.set()
            await parked
            assert all(created for _, created in await asyncio.gather(*pending))
            assert writer.batches == batches + 1

    run_async(main())


def test_a_second_opener_reads_only_until_the_owner_lets_go(tmp_path: Path) -> None:
    """The in-memory index assumes one writer, so the lock file decides who writes and
    repairs; another opener (``seqd export`` next to a running daemon) only reads."""
    root = tmp_path / "files"

    async def main() -> None:
        owner = make(tmp_path)
        await owner.open()
        try:
            first = new_run(task="t", idempotency_key="k")
            await owner.create_run(first)
            await owner.append_logs(first.id, lines("a", "b"))
            await owner.append_steps(first.id, [new_step("s", "a")])
            in_flight = root / "tasks" / "t" / "runs" / f".{first.id}.json.1.2.tmp"
            in_flight.write_bytes(b'{"half')  # as if the owner were writing it now
            async with opened(lambda: make(tmp_path)) as reader:
                assert owner.owns_store() and not reader.owns_store()
                assert await reader.get_run(first.id) == first
                assert [g.text for g in await reader.read_logs(first.id, 0, 10)] == ["a", "b"]
                assert [g.key for g in await reader.read_steps(first.id, 0, 10)] == ["a"]
                with pytest.raises(StorageUnavailable, match=f"pid {os.getpid()}") as info:
                    await reader.create_run(new_run(task="t"))
                assert "reading only" in info.value.message
                with pytest.raises(StorageUnavailable, match="reading only"):
                    await reader.append_logs(first.id, lines("c"))
                with pytest.raises(StorageUnavailable, match="reading only"):
                    await reader.append_steps(first.id, [new_step("s", "b")])
                with pytest.raises(StorageUnavailable, match="reading only"):
                    await reader.update_run(changed(first, status="running"))
                assert in_flight.exists()  # not the reader's to clean up
                second = new_run(task="t")
                await owner.create_run(second)
                await owner.close()
                # The owner is gone: the next write takes the store over, rescanned.
                third = new_run(task="t")
                assert (await reader.create_run(third))[1] > 0
                assert reader.owns_store() and not in_flight.exists()
                assert await reader.get_run(second.id) == second
                assert await reader.create_run(new_run(idempotency_key="k")) == (first, 0)
                assert await reader.append_logs(first.id, lines("c")) == 3
                assert await reader.append_steps(first.id, [new_step("s", "b")]) == 2
        finally:
            await owner.close()
        async with opened(lambda: make(tmp_path)) as b:
            assert b.owns_store()
            assert (await b.count_by_status()) == {"queued": 3}
            await b.close()
            with pytest.raises(StorageUnavailable, match="closed"):
                await b.create_run(new_run())
            with pytest.raises(StorageUnavailable, match="closed"):
                await b.get_run(new_run().id)

    run_async(main())


# -- crash safety --------------------------------------------------------------------------

CHILD = r"""
import asyncio, sys
from seqd.builtin.storage.fs.backend import FSBackend
from seqd.testing.storage import lines, changed, new_run, new_step

async def main(root):
    b = FSBackend(root, durability="normal")
    await b.open()
    out = sys.stdout

    async def runs(w):
        while True:
            run = new_run(task=f"w{w}", input={"pad": "x" * 300}, idempotency_key=None)
            await b.create_run(run)
            out.write(f"c {run.id}\n")
            await b.update_run(changed(run, status="running"), expect=["queued"])
            done = changed(run, status="succeeded", output=w)
            await b.update_run(done, expect=["running"])
            out.write(f"u {run.id}\n")

    async def logs(w):
        run = new_run(task="logs")
        await b.create_run(run)
        while True:
            seq = await b.append_logs(run.id, lines(f"{w}a", f"{w}b" * 50))
            out.write(f"l {run.id} {seq}\n")

    async def journals(w):
        run = new_run(task="flows")
        await b.create_run(run)
        while True:
            steps = [new_step("state", f"{w}.{i}", data={"pad": "p" * 40}) for i in range(3)]
            seq = await b.append_steps(run.id, steps)
            out.write(f"j {run.id} {seq}\n")

    await asyncio.gather(
        *(runs(w) for w in range(8)), *(logs(w) for w in range(2)), *(journals(w) for w in range(2))
    )

asyncio.run(main(sys.argv[1]))
"""


def test_sigkill_during_heavy_writes_loses_no_acknowledged_write(tmp_path: Path) -> None:
    root = tmp_path / "files"
    proc = subprocess.Popen(
        [sys.executable, "-u", "-c", CHILD, str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    watchdog = threading.Timer(90, proc.kill)
    watchdog.start()
    seen: list[bytes] = []
    try:
        assert proc.stdout is not None and proc.stderr is not None
        updated = 0
        for line in proc.stdout:
            seen.append(line)
            updated += line.startswith(b"u ")
            if updated >= 1000:
                break
        assert updated >= 1000, proc.stderr.read().decode()
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate(timeout=30)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # Each line was printed after its write was acknowledged; a torn last line is dropped.
    acked = [ln.split() for ln in b"".join([*seen, rest]).decode().split("\n")[:-1]]

    async def check() -> None:
        async with opened(lambda: FSBackend(str(root))) as b:
            created = {f[1] for f in acked if f[0] == "c"}
            done = {f[1] for f in acked if f[0] == "u"}
            logs: dict[str, int] = {}
            journals: dict[str, int] = {}
            for f in acked:
                if f[0] in ("l", "j"):
                    seqs = logs if f[0] == "l" else journals
                    seqs[f[1]] = max(seqs.get(f[1], 0), int(f[2]))
            assert len(done) >= 1000 and logs and journals
            for run_id in created:
                stored = await b.get_run(run_id)
                assert stored is not None, run_id
                if run_id in done:
                    assert stored.status == "succeeded"
            for run_id, seq in logs.items():
                got = await b.read_logs(run_id, 0, seq + 1000)
                assert [g.seq for g in got[:seq]] == list(range(1, seq + 1))
                assert [g.seq for g in got] == list(range(1, len(got) + 1))
            for run_id, seq in journals.items():
                steps = await b.read_steps(run_id, 0, seq + 1000)
                assert [g.seq for g in steps[:seq]] == list(range(1, seq + 1))
                assert [g.seq for g in steps] == list(range(1, len(steps) + 1))
                assert len(steps) % 3 == 0  # appends are whole: three entries or none
                assert all(g.key.endswith(f".{(g.seq - 1) % 3}") for g in steps)

    run_async(check())
    leftovers = files_under(root)
    assert not [p for p in leftovers if p.name.endswith(".tmp")]
    for path in leftovers:
        if path.suffix == ".json":
            msgspec.json.decode(path.read_bytes(), type=Run)


SYNC_CHILD = r"""
import asyncio, sys
from seqd.builtin.storage.fs.backend import FSBackend
from seqd.testing.storage import changed, lines, new_run, new_step

async def main(root, durability):
    b = FSBackend(root, durability=durability)
    await b.open()
    run = new_run(task="t", idempotency_key="k")
    await b.create_run(run)
    await b.update_run(changed(run, status="running"))
    await b.append_logs(run.id, lines("a"))
    await b.append_steps(run.id, [new_step("s", "a")])
    await b.close()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


@pytest.mark.parametrize("durability", ["normal", "full"])
def test_full_durability_fsyncs_files_then_folders(tmp_path: Path, durability: str) -> None:
    """Watched with strace: ``full`` fsyncs each temp file before its rename and the
    folder after it, and fdatasyncs log and journal appends; ``normal`` never waits for
    the disk."""
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed: cannot watch the system calls")
    root, trace = tmp_path / "files", tmp_path / "trace"
    done = subprocess.run(
        ["strace", "-f", "-qq", "-o", str(trace), "-e", "trace=openat,fsync,fdatasync,rename",
         sys.executable, "-c", SYNC_CHILD, str(root), durability],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip
    if done.returncode != 0 and "ptrace" in done.stderr:
        pytest.skip(f"strace cannot trace here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    opened_fds: dict[tuple[str, str], str] = {}
    synced: list[str] = []  # paths, in the order they were synced
    renames: list[tuple[str, str, int]] = []  # (source, target, syncs before it)
    for line in trace.read_text().splitlines():
        pid, call = line.split(None, 1)  # strace pads short pids with spaces
        if call.startswith("openat(") and " = " in call:
            opened_fds[pid, call.rsplit(" = ", 1)[1]] = call.split('"')[1]
        elif call.startswith(("fsync(", "fdatasync(")):
            synced.append(opened_fds.get((pid, call.split("(")[1].split(")")[0]), "?"))
        elif call.startswith("rename(") and str(root) in call:
            parts = call.split('"')
            renames.append((parts[1], parts[3], len(synced)))
    store_syncs = [p for p in synced if p.startswith(str(root))]
    assert renames
    if durability == "normal":
        assert store_syncs == []
        return
    for source, target, before in renames:
        assert source in synced[:before], f"{source} renamed before it was fsynced"
        assert os.path.dirname(target) in synced[before:], f"folder of {target} not fsynced"
    assert any(p.endswith(".log.jsonl") for p in store_syncs)
    assert any(p.endswith(".journal.jsonl") for p in store_syncs)
    assert any(p.startswith(str(root / "idempotency")) for p in store_syncs)


# -- storage trouble: a full or read-only file system ---------------------------------------


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs of its own (needs root and a mount-permitting container)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command here: cannot make a small file system to fill")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.strip()}); ENOSPC untested")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(path: Path) -> None:
    """Write ``path`` until the file system is full."""
    with path.open("wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == 28  # ENOSPC


def test_full_file_system_reports_unavailable_then_recovers(small_fs: Path) -> None:
    store = small_fs / "store"
    filler = small_fs / "filler"

    async def main() -> None:
        async with opened(lambda: FSBackend(str(store))) as b:
            run = new_run(task="t")
            await b.create_run(run)
            assert await b.append_logs(run.id, lines("a")) == 1
            assert await b.append_steps(run.id, [new_step("s", "a")]) == 1
            fill(filler)
            blocked = new_run(task="t", idempotency_key="k", input={"pad": "x" * 8000})
            with pytest.raises(StorageUnavailable, match="full") as info:
                await b.create_run(blocked)
            assert info.value.details["errno"] == "ENOSPC"
            assert str(store) in info.value.message
            with pytest.raises(StorageUnavailable, match="full"):
                await b.append_logs(run.id, lines("y" * 20_000, "z" * 20_000))
            with pytest.raises(StorageUnavailable, match="full"):
                big = {"blob": "x" * 20_000}
                await b.append_steps(run.id, [new_step("s", "y", data=big)] * 2)
            with pytest.raises(StorageUnavailable, match="full"):
                await b.update_run(changed(run, status="running", output="o" * 8000))
            assert await b.get_run(blocked.id) is None
            assert await b.get_run(run.id) == run
            assert [g.text for g in await b.read_logs(run.id, 0, 10)] == ["a"]
            filler.unlink()
            assert (await b.create_run(blocked))[1] > 0
            assert await b.append_logs(run.id, lines("b")) == 2
            assert await b.append_steps(run.id, [new_step("s", "b")]) == 2
            assert await b.update_run(changed(run, status="running"), expect=["queued"])
        async with opened(lambda: FSBackend(str(store))) as b:
            assert [g.text for g in await b.read_logs(run.id, 0, 10)] == ["a", "b"]
            assert [g.key for g in await b.read_steps(run.id, 0, 10)] == ["a", "b"]
            assert await b.get_run(blocked.id) == blocked
            assert (await b.count_by_status()) == {"queued": 1, "running": 1}

    run_async(main())
    assert not [p for p in files_under(store) if p.name.endswith(".tmp")]


def test_read_only_file_system_reports_unavailable_then_recovers(small_fs: Path) -> None:
    store = small_fs / "store"

    def remount(mode: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{mode}", str(small_fs)], check=True)

    async def main() -> None:
        async with opened(lambda: FSBackend(str(store))) as b:
            run = new_run(task="t")
            await b.create_run(run)
            remount("ro")
            try:
                with pytest.raises(StorageUnavailable, match="read-only") as info:
                    await b.create_run(new_run(task="t"))
                assert info.value.details["errno"] == "EROFS"
                with pytest.raises(StorageUnavailable, match="read-only"):
                    await b.append_logs(run.id, lines("x"))
                assert await b.get_run(run.id) == run  # reads go on
            finally:
                remount("rw")
            later = new_run(task="t")
            assert (await b.create_run(later))[1] > 0
            assert await b.append_logs(run.id, lines("x")) == 1

    run_async(main())


def test_unopenable_root_reports_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the state directory should be")

    async def use() -> None:
        async with opened(lambda: make(blocker)) as b:
            await b.create_run(new_run())

    with pytest.raises(StorageUnavailable, match=str(blocker)):
        run_async(use())
    blocker.unlink()
    run_async(use())
