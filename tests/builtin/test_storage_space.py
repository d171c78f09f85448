"""Space comes back after pruning, in each built-in store: the SQLite file shrinks
(incremental auto-vacuum, turned on for files made before it), the file store's files
are gone. (PostgreSQL: plugins/seqd-postgres/tests/test_postgres_pruning.py.)"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from seqd.builtin.storage.fs.backend import FSStorageFactory
from seqd.builtin.storage.sqlite.backend import SQLiteStorageFactory
from seqd.builtin.storage.sqlite.schema import migrate
from seqd.model.retention import PruneQuery
from seqd.model.timeutil import now
from seqd.plugins.storage import StorageBackend, StorageContext
from seqd.testing.storage import lines, new_run, new_step, opened, run_async
from seqd.testing.storage.support import made

RUNS = 200
LINE = "x" * 2000


def sqlite_store(state: Path) -> StorageBackend:
    return SQLiteStorageFactory().create({}, StorageContext(str(state), "normal"))


def fs_store(state: Path) -> StorageBackend:
    return FSStorageFactory().create({}, StorageContext(str(state), "normal"))


async def fill(b: StorageBackend) -> None:
    for i in range(RUNS):
        run = new_run(status="succeeded", finished_at=now(), idempotency_key=f"k{i}")
        await b.create_run(run)
        await b.append_logs(run.id, lines(*[LINE] * 10))
        await b.append_steps(run.id, [new_step("state", "s")])


async def prune_everything(b: StorageBackend) -> int:
    removed = 0
    query = PruneQuery(status="succeeded", finished_before="9999", limit=50)
    while True:
        batch = await b.prune_runs(query)
        removed += len(batch.removed)
        if batch.cursor is None:
            return removed
        query = PruneQuery(status="succeeded", finished_before="9999", limit=50, after=batch.cursor)


def auto_vacuum(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA auto_vacuum").fetchone()[0])


def settled_size(path: Path) -> int:
    """The database file's size once its WAL is checkpointed into it."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return os.path.getsize(path)


def test_sqlite_file_shrinks_after_pruning(tmp_path: Path) -> None:
    db = tmp_path / "seqd.db"

    async def main() -> None:
        async with opened(lambda: sqlite_store(tmp_path)) as b:
            await fill(b)
        full = settled_size(db)
        assert full > RUNS * 10 * len(LINE)
        async with opened(lambda: sqlite_store(tmp_path)) as b:
            assert await prune_everything(b) == RUNS
        assert settled_size(db) < full / 10

    assert not db.exists()
    run_async(main())
    assert auto_vacuum(db) == 2  # incremental, from the file's first table on


def test_an_older_sqlite_file_is_turned_to_incremental_auto_vacuum(tmp_path: Path) -> None:
    db = tmp_path / "seqd.db"
    with sqlite3.connect(db, isolation_level=None) as conn:  # as seqd made files before
        conn.execute("PRAGMA journal_mode = WAL")
        migrate(conn)
    assert auto_vacuum(db) == 0

    async def main() -> None:
        async with opened(lambda: sqlite_store(tmp_path)) as b:
            await fill(b)
            assert await prune_everything(b) == RUNS

    run_async(main())
    assert auto_vacuum(db) == 2
    assert settled_size(db) < RUNS * len(LINE)


def test_file_store_files_are_gone_after_pruning(tmp_path: Path) -> None:
    root = tmp_path / "files"

    def files() -> list[str]:
        return sorted(
            str(Path(d, f).relative_to(root))
            for d, _, names in os.walk(root)
            for f in names
            if f != "lock"
        )

    async def main() -> None:
        async with opened(lambda: fs_store(tmp_path)) as b:
            await fill(b)
            assert len(files()) == RUNS * 4  # run, log, journal, idempotency claim
            assert await prune_everything(b) == RUNS
            assert files() == []
            # The keys are free: new runs may take them.
            again = new_run(idempotency_key="k0")
            assert made(await b.create_run(again)) == (again, True)
        async with opened(lambda: fs_store(tmp_path)) as b:  # the scan at open agrees
            assert await b.count_by_status() == {"queued": 1}

    run_async(main())
