"""The file store's batches of runs (``create_runs``): all or none on disk. The batch
file is the commit point; the scan at open finishes a batch a crash interrupted, and a
failed write undoes what it had written."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from seqd.builtin.storage.fs.backend import FSBackend, FSStorageFactory
from seqd.errors import StorageUnavailable
from seqd.plugins.storage import StorageContext
from seqd.testing.storage import new_run, opened, run_async
from seqd.testing.storage.support import made


def make(state_dir: Path, durability: str = "normal") -> FSBackend:
    context = StorageContext(state_dir=str(state_dir), durability=durability)
    return FSStorageFactory().create({}, context)


@pytest.mark.parametrize("durability", ["normal", "full"])
def test_an_interrupted_batch_is_finished_at_open(tmp_path: Path, durability: str) -> None:
    state = tmp_path / "state"
    runs = [
        new_run(task="each", input={"i": i}, idempotency_key=f"line:{i}" if i % 2 else None)
        for i in range(5)
    ]
    root = state / "files"

    async def before_the_crash() -> None:
        async with opened(lambda: make(state, durability)) as b:
            await b.create_run(runs[0])  # the crash came after this run's file

    run_async(before_the_crash())
    # What ``create_batch`` leaves when killed right after its commit point.
    batches = root / "batches"
    batches.mkdir()
    lines = b"".join(msgspec.json.encode(run) + b"\n" for run in runs)
    (batches / f"{runs[0].id}.jsonl").write_bytes(lines)
    (batches / f".{runs[0].id}.jsonl.1.2.tmp").write_bytes(b"half")  # an older, torn try

    async def after() -> None:
        async with opened(lambda: make(state, durability)) as b:
            for run in runs:
                assert await b.get_run(run.id) == run
            # Their keys are claimed: submitting one again answers with its run.
            again = new_run(task="each", input={"i": 1}, idempotency_key="line:1")
            assert made(await b.create_run(again)) == (runs[1], False)

    run_async(after())
    assert list(batches.iterdir()) == []


def test_a_failed_batch_leaves_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state"
    root = state / "files"
    good = [new_run(task="fine", idempotency_key=f"k{i}") for i in range(3)]
    # A file where the folder of task "blocked" would go: its run file cannot be written.
    blocked = new_run(task="blocked")

    async def main() -> None:
        async with opened(lambda: make(state)) as b:
            (root / "tasks").mkdir(parents=True, exist_ok=True)
            (root / "tasks" / "blocked").write_text("not a folder")
            with pytest.raises(StorageUnavailable):
                await b.create_runs([*good, blocked])
            for run in [*good, blocked]:
                assert await b.get_run(run.id) is None
            # The keys were released: the same runs go in once the obstacle is gone.
            (root / "tasks" / "blocked").unlink()
            answer = await b.create_runs([*good, blocked])
            assert [made(a)[1] for a in answer] == [True] * 4
        async with opened(lambda: make(state)) as b:
            for run in [*good, blocked]:
                assert await b.get_run(run.id) == run

    run_async(main())
    assert list((root / "batches").iterdir()) == []
    assert len(list((root / "idempotency").iterdir())) == len(good)
