"""The SQLite backend: the shared conformance suite, then what only SQLite has (WAL,
pragmas, migrations, crash safety, lock/read-only/full handling, the writer thread)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from seqd.builtin.storage.sqlite.backend import SQLiteBackend, SQLiteStorageFactory
from seqd.builtin.storage.sqlite.schema import LATEST, MIGRATIONS, Migration, migrate
from seqd.builtin.storage.sqlite.writer import Writer
from seqd.errors import Conflict, StorageUnavailable, ValidationFailed
from seqd.model.runs import NewStep, RunQuery
from seqd.plugins.host import PluginHost
from seqd.plugins.storage import StorageContext
from seqd.plugins.storage_kit.schema import SchemaTooNew
from seqd.plugins.storage_kit.sql import run_row
from seqd.testing.storage import (
    BackendMaker,
    StorageConformance,
    StoreSpec,
    changed,
    lines,
    new_run,
    opened,
    run_async,
)
from seqd.testing.storage.legacy import check_migrated, legacy_json, legacy_runs

ROOT = Path(__file__).resolve().parents[2]


def make(state_dir: Path, durability: str = "normal", **options: Any) -> SQLiteBackend:
    context = StorageContext(state_dir=str(state_dir), durability=durability)
    return SQLiteStorageFactory().create(options, context)


class TestSQLiteConformance(StorageConformance):
    @pytest.fixture
    def make_backend(self, tmp_path: Path) -> BackendMaker:
        return lambda: make(tmp_path / "state")

    @pytest.fixture
    def store_spec(self, tmp_path: Path) -> StoreSpec:
        return StoreSpec(name="sqlite", options={}, state_dir=str(tmp_path / "state"))


# -- plugin, options ------------------------------------------------------------------


def test_registered_through_the_plugin_host(tmp_path: Path) -> None:
    host = PluginHost()
    host.load(builtins=("storage_sqlite",), entry_points=False)
    factory = host.storage.get("sqlite")
    assert factory is not None and host.storage.owner("sqlite") == "storage_sqlite"
    context = StorageContext(state_dir=str(tmp_path), durability="normal")
    assert factory.create({}, context).location == str(tmp_path / "seqd.db")
    assert factory.create({"path": "sub/x.db"}, context).location == str(tmp_path / "sub/x.db")
    assert factory.create({"path": "/abs/y.db"}, context).location == "/abs/y.db"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"pathh": "x.db"}, "backends.sqlite.pathh"),
        ({"path": 5}, "backends.sqlite.path"),
        ({"busy_timeout_ms": -1}, "backends.sqlite.busy_timeout_ms"),
        ({"read_connections": 0}, "backends.sqlite.read_connections"),
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


# -- pragmas and schema ------------------------------------------------------------------


def pragma(backend: SQLiteBackend, name: str) -> Any:
    """Read a pragma on the writer's own connection (synchronous is per connection),
    in the writer thread (the loop's own transactions never wait: busy_timeout 0)."""

    async def main() -> Any:
        assert backend.writer is not None
        return await backend.writer.submit(
            lambda conn: conn.execute(f"PRAGMA {name}").fetchall()[0][0], inline=False
        )

    return main()


@pytest.mark.parametrize(("durability", "synchronous"), [("normal", 1), ("full", 2)])
def test_wal_and_durability_pragmas(tmp_path: Path, durability: str, synchronous: int) -> None:
    async def main() -> None:
        backend = make(tmp_path, durability=durability, busy_timeout_ms=1234)
        async with opened(lambda: backend):
            assert await pragma(backend, "synchronous") == synchronous
            assert await pragma(backend, "busy_timeout") == 1234
            assert str(await pragma(backend, "journal_mode")).lower() == "wal"

    run_async(main())
    with sqlite3.connect(tmp_path / "seqd.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def schema_of(path: Path) -> tuple[int, list[tuple[str, str]]]:
    conn = sqlite3.connect(path)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        objects = conn.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()
        return version, objects
    finally:
        conn.close()


def test_migrations_are_idempotent_on_reopen(tmp_path: Path) -> None:
    run = new_run()

    async def first() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            await b.create_run(run)

    async def again() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            assert await b.get_run(run.id) == run

    run_async(first())
    version, objects = schema_of(tmp_path / "seqd.db")
    assert version == LATEST
    assert {"runs", "logs", "runs_status_id"} <= {name for name, _ in objects}
    run_async(again())
    run_async(again())
    assert schema_of(tmp_path / "seqd.db") == (version, objects)


def test_a_version_3_file_numbers_its_runs_in_creation_order(tmp_path: Path) -> None:
    """Runs stored before change positions existed get 1, 2, ... in id order at the
    migration; later writes continue after them."""
    path = tmp_path / "seqd.db"
    runs = [new_run() for _ in range(3)]
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        assert migrate(conn, MIGRATIONS[:3]) == 3
        columns = "task, status, parent_id, root_id, idempotency_key, created_at, data, id"
        for run in reversed(runs):  # inserted newest first: numbering follows the ids
            conn.execute(f"INSERT INTO runs ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (*run_row(run)[:7], run.id))  # fmt: skip
    finally:
        conn.close()

    async def main() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            listed = await b.run_changes(0, 10)
            assert [(c.position, c.run) for c in listed] == list(enumerate(runs, 1))
            assert await b.last_change() == 3
            assert await b.update_run(changed(runs[0], status="running")) == 4

    run_async(main())
    assert schema_of(path)[0] == LATEST


def test_a_new_migration_applies_once_and_a_failed_one_changes_nothing(tmp_path: Path) -> None:
    async def create() -> None:
        async with opened(lambda: make(tmp_path)):
            pass

    run_async(create())
    path = tmp_path / "seqd.db"

    def add_kv(db: Any) -> None:
        db["extra"].create({"key": str, "value": str}, pk="key")

    def broken(db: Any) -> None:
        db["half_done"].create({"x": int})
        raise RuntimeError("migration bug")

    conn = sqlite3.connect(path, isolation_level=None)
    try:
        with pytest.raises(RuntimeError, match="migration bug"):
            migrate(conn, (*MIGRATIONS, Migration(LATEST + 1, "broken", broken)))
        assert schema_of(path)[0] == LATEST
        assert "half_done" not in {name for name, _ in schema_of(path)[1]}

        extended = (*MIGRATIONS, Migration(LATEST + 1, "extra table", add_kv))
        assert migrate(conn, extended) == LATEST + 1
        assert migrate(conn, extended) == LATEST + 1
        assert schema_of(path)[0] == LATEST + 1
        assert "extra" in {name for name, _ in schema_of(path)[1]}
        with pytest.raises(ValueError, match="in order"):
            migrate(conn, (*MIGRATIONS, Migration(LATEST + 2, "gap", add_kv)))
    finally:
        conn.close()


def test_version_3_runs_get_their_idempotency_scopes(tmp_path: Path) -> None:
    """A store from before scopes (schema version 3) is migrated at open: every keyed
    run gets the scope its submitter or parent gives it, in the column and in its
    record; keys are then unique per scope."""
    path = tmp_path / "seqd.db"
    old = legacy_runs()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        assert migrate(conn, MIGRATIONS[:3]) == 3
        for run, _ in old:
            conn.execute(
                "INSERT INTO runs (id, task, status, parent_id, root_id, idempotency_key,"
                " created_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run.id, run.task, run.status, run.parent_id, run.root_id,
                 run.idempotency_key, run.created_at, legacy_json(run)),
            )  # fmt: skip
    finally:
        conn.close()

    async def main() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            await check_migrated(b, old)

    run_async(main())
    with sqlite3.connect(path) as conn:
        rows = dict(conn.execute("SELECT id, idempotency_scope FROM runs").fetchall())
    conn.close()
    assert all(rows[run.id] == scope for run, scope in old)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    async def create() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            await b.create_run(new_run())

    run_async(create())
    path = tmp_path / "seqd.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {LATEST + 1}")
    conn.close()

    async def reopen() -> None:
        await make(tmp_path).open()

    with pytest.raises(SchemaTooNew) as info:
        run_async(reopen())
    assert isinstance(info.value, StorageUnavailable)
    assert "newer seqd" in info.value.message and str(path) in info.value.message
    assert info.value.details == {"found": LATEST + 1, "supported": LATEST}
    assert schema_of(path)[0] == LATEST + 1


# -- crash safety --------------------------------------------------------------------------

# -- storage trouble: locked, read-only, full, unopenable ----------------------------------


def test_locked_database_reports_unavailable_then_recovers(tmp_path: Path) -> None:
    async def main() -> None:
        async with opened(lambda: make(tmp_path, busy_timeout_ms=100)) as b:
            before = new_run()
            await b.create_run(before)
            holder = sqlite3.connect(tmp_path / "seqd.db", isolation_level=None)
            try:
                holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
                blocked = new_run()
                with pytest.raises(StorageUnavailable, match="locked"):
                    await b.create_run(blocked)
                assert await b.get_run(before.id) == before  # WAL: reads go on
                holder.execute("ROLLBACK")
            finally:
                holder.close()
            assert await b.get_run(blocked.id) is None
            assert (await b.create_run(blocked))[1] > 0
            assert await b.get_run(blocked.id) == blocked

    run_async(main())


def test_readonly_connection_is_replaced_after_failing(tmp_path: Path) -> None:
    async def main() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            assert b.writer is not None
            await b.writer.submit(lambda conn: conn.execute("PRAGMA query_only = 1"))
            run = new_run()
            with pytest.raises(StorageUnavailable, match="readonly") as info:
                await b.create_run(run)
            assert info.value.details["sqlite_error"] == "SQLITE_READONLY"
            # The writer replaced its stuck connection: the next write goes through.
            assert (await b.create_run(run))[1] > 0
            assert await pragma(b, "query_only") == 0

    run_async(main())


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_readonly_files_report_unavailable_then_recover(tmp_path: Path) -> None:
    state = tmp_path / "state"

    async def use() -> None:
        async with opened(lambda: make(state)) as b:
            await b.create_run(new_run())

    state.mkdir(mode=0o555)
    try:
        with pytest.raises(StorageUnavailable, match=str(state)):
            run_async(use())
        state.chmod(0o755)
        run_async(use())
        (state / "seqd.db").chmod(0o444)
        with pytest.raises(StorageUnavailable, match="readonly"):
            run_async(use())
    finally:
        state.chmod(0o755)
        for path in state.glob("seqd.db*"):  # SQLite gives -wal/-shm the db file's mode
            path.chmod(0o644)
    run_async(use())


def test_full_database_reports_unavailable_then_recovers(tmp_path: Path) -> None:
    async def main() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            assert b.writer is not None
            b.writer.inline = False  # both creates in one batch, through the thread
            pages = await pragma(b, "page_count")
            await b.writer.submit(
                lambda conn: conn.execute(f"PRAGMA max_page_count = {pages}").fetchall()
            )
            big = new_run(output="x" * 200_000)
            small = new_run()
            results = await asyncio.gather(
                b.create_run(small), b.create_run(big), return_exceptions=True
            )
            assert all(isinstance(r, StorageUnavailable) for r in results), results
            assert "full" in str(results[1])
            assert await b.get_run(small.id) is None  # the whole batch was rolled back
            await b.writer.submit(
                lambda conn: conn.execute("PRAGMA max_page_count = 1073741823").fetchall()
            )
            assert (await b.create_run(big))[1] > 0
            assert await b.get_run(big.id) == big

    run_async(main())


def test_unopenable_path_reports_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the state directory should be")

    async def use() -> None:
        async with opened(lambda: make(blocker)) as b:
            await b.create_run(new_run())

    with pytest.raises(StorageUnavailable, match=str(blocker)):
        run_async(use())
    blocker.unlink()
    run_async(use())


# -- the writer thread ----------------------------------------------------------------------


async def hold_writer(backend: SQLiteBackend) -> tuple[threading.Event, asyncio.Future[Any]]:
    """Park the writer thread inside an op until the returned event is set (with the
    idle fast path off: an idle writer would run the op on the loop itself)."""
    assert backend.writer is not None
    backend.writer.inline = False
    entered, release = threading.Event(), threading.Event()

    def park(conn: sqlite3.Connection) -> None:
        entered.set()
        release.wait(30)

    parked = backend.writer.submit(park)
    assert await asyncio.to_thread(entered.wait, 30)
    return release, parked


def test_queued_writes_commit_as_one_batch(tmp_path: Path) -> None:
    async def main() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            assert b.writer is not None
            release, parked = await hold_writer(b)
            runs = [new_run() for _ in range(300)]
            pending = [asyncio.ensure_future(b.create_run(r)) for r in runs]
            await asyncio.sleep(0)
            batches = b.writer.batches
            release.set()
            await parked
            assert all(created for _, created in await asyncio.gather(*pending))
            assert b.writer.batches == batches + 1

    run_async(main())


def test_a_failing_op_fails_only_itself(tmp_path: Path) -> None:
    async def main() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            taken = new_run()
            await b.create_run(taken)
            keyed = new_run(idempotency_key="k")
            await b.create_run(keyed)
            assert b.writer is not None
            release, parked = await hold_writer(b)
            first, last = new_run(), new_run()
            duplicate = changed(taken, input={"again": True})
            steals_key = changed(
                taken, idempotency_key="k", idempotency_scope=keyed.idempotency_scope
            )

            def half_done(conn: sqlite3.Connection) -> None:
                conn.execute("DELETE FROM runs WHERE id = ?", (keyed.id,))
                raise ValueError("bug after the first statement")

            pending: list[asyncio.Future[Any]] = [
                asyncio.ensure_future(b.create_run(first)),
                asyncio.ensure_future(b.create_run(duplicate)),
                b.writer.submit(half_done),
                asyncio.ensure_future(b.update_run(steals_key)),
                asyncio.ensure_future(b.create_run(last)),
            ]
            await asyncio.sleep(0)
            release.set()
            await parked
            results = await asyncio.gather(*pending, return_exceptions=True)
            assert results[0][0] == first and results[4][0] == last
            assert 0 < results[0][1] < results[4][1]
            assert isinstance(results[1], Conflict) and isinstance(results[3], Conflict)
            assert isinstance(results[2], ValueError)
            assert await b.get_run(keyed.id) == keyed  # the half-done op was undone
            assert await b.get_run(taken.id) == taken
            assert await b.get_run(first.id) == first
            assert await b.get_run(last.id) == last

    run_async(main())


def test_a_dead_writer_fails_fast_and_is_restarted(tmp_path: Path) -> None:
    def die(conn: sqlite3.Connection) -> None:
        raise SystemExit("simulated crash of the writer thread")

    async def main() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            assert b.writer is not None
            release, parked = await hold_writer(b)
            dying = b.writer.submit(die)
            queued = asyncio.ensure_future(b.create_run(new_run()))
            await asyncio.sleep(0)
            release.set()
            await parked
            with pytest.raises(StorageUnavailable):
                await dying
            with pytest.raises(StorageUnavailable, match="stopped"):
                await queued  # was waiting behind the crash: fails, does not hang
            with pytest.raises(StorageUnavailable, match="restarted"):
                await b.create_run(new_run())
            run = new_run()
            assert (await b.create_run(run))[1] > 0
            assert await b.get_run(run.id) == run

    run_async(main())


def test_idle_writes_commit_on_the_loop_and_busy_ones_queue(tmp_path: Path) -> None:
    async def main() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            assert b.writer is not None and b.writer.inline
            before = b.writer.inlined
            run = new_run()
            assert (await b.create_run(run))[1] > 0  # idle: on the loop
            assert b.writer.inlined == before + 1
            assert await b.get_run(run.id) == run  # committed: another connection sees it
            # Writes submitted together: the first goes inline, the rest queue and
            # commit in one batch, in order.
            batches = b.writer.batches
            runs = [new_run() for _ in range(50)]
            got = await asyncio.gather(*(b.create_run(r) for r in runs))
            assert all(created for _, created in got)
            assert b.writer.batches <= batches + 2
            # A big write (many rows) always goes through the thread.
            inlined, batches = b.writer.inlined, b.writer.batches
            await b.append_logs(run.id, lines(*(f"line {i}" for i in range(100))))
            assert (b.writer.inlined, b.writer.batches) == (inlined, batches + 1)
            # A failing op fails only itself, inline too (and leaves no transaction).
            with pytest.raises(Conflict):
                await b.create_run(changed(run, input={"other": 1}, idempotency_key=None))
            assert await b.update_run(changed(run, status="running"), expect=("queued",))

    run_async(main())


async def with_table(b: SQLiteBackend) -> Writer:
    """The backend's writer, with a table ``t (k TEXT PRIMARY KEY)`` to write to."""
    assert b.writer is not None
    await b.writer.submit(lambda c: c.execute("CREATE TABLE t (k TEXT PRIMARY KEY)"), False)
    return b.writer


async def keys(w: Writer) -> list[str]:
    rows = await w.submit(lambda c: c.execute("SELECT k FROM t").fetchall(), False)
    return sorted(r[0] for r in rows)


def test_writes_of_one_loop_turn_share_a_commit_and_fail_alone(tmp_path: Path) -> None:
    async def main() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            w = await with_table(b)

            def put(key: str) -> Any:
                return lambda c: c.execute("INSERT INTO t VALUES (?)", (key,)).rowcount

            await w.submit(put("z"))
            commits, inlined = w.loop_commits, w.inlined
            # One turn: five writes, the first and the fourth failing on their own.
            futs = [w.submit(put(k)) for k in ("z", "a", "b", "a", "c")]
            assert not any(futs[i].done() for i in (1, 2, 4))  # answered after the commit
            got = await asyncio.gather(*futs, return_exceptions=True)
            assert isinstance(got[0], sqlite3.IntegrityError)
            assert isinstance(got[3], sqlite3.IntegrityError)
            assert [got[1], got[2], got[4]] == [1, 1, 1]
            assert w.inlined - inlined == 3 and w.loop_commits - commits == 1
            assert await keys(w) == ["a", "b", "c", "z"]

    run_async(main())


def test_a_first_write_failing_alone_leaves_the_turn_usable(tmp_path: Path) -> None:
    async def main() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            w = await with_table(b)
            await w.submit(lambda c: c.execute("INSERT INTO t VALUES ('x')"))
            bad = w.submit(lambda c: c.execute("INSERT INTO t VALUES ('x')"))
            good = w.submit(lambda c: c.execute("INSERT INTO t VALUES ('y')").rowcount)
            with pytest.raises(sqlite3.IntegrityError):
                await bad
            assert await good == 1
            assert await keys(w) == ["x", "y"]

    run_async(main())


def test_a_storage_error_hands_the_loop_transaction_to_the_thread(tmp_path: Path) -> None:
    """An op that finds the storage in trouble on the loop: the loop's transaction is
    rolled back and every op in it runs again, in order, in the thread."""

    async def main() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            w = await with_table(b)
            threads: list[str] = []

            def put(key: str, trouble_on_loop: bool = False) -> Any:
                def op(c: sqlite3.Connection) -> int:
                    on_loop = threading.current_thread() is threading.main_thread()
                    threads.append(f"{key}:{'loop' if on_loop else 'thread'}")
                    if trouble_on_loop and on_loop:
                        raise sqlite3.OperationalError("disk I/O error")
                    return int(c.execute("INSERT INTO t VALUES (?)", (key,)).rowcount)

                return op

            batches = w.batches
            got = await asyncio.gather(w.submit(put("a")), w.submit(put("b", True)))
            assert got == [1, 1]
            assert threads == ["a:loop", "b:loop", "a:thread", "b:thread"]
            assert w.batches == batches + 1
            assert await keys(w) == ["a", "b"]

    run_async(main())


def test_idle_fast_path_never_waits_for_another_writer(tmp_path: Path) -> None:
    """Another process (here: connection) holding the write lock: the loop does not
    block on it; the write queues and the thread waits for the lock instead."""

    async def main() -> None:
        async with opened(lambda: make(tmp_path, busy_timeout_ms=10_000)) as b:
            assert b.writer is not None
            other = sqlite3.connect(b.location, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            pending = asyncio.ensure_future(b.create_run(new_run()))
            await asyncio.sleep(0)
            assert loop.time() - t0 < 0.5  # the loop was not held
            await asyncio.sleep(0.3)
            assert not pending.done()
            other.execute("COMMIT")
            other.close()
            _, created = await asyncio.wait_for(pending, 10)
            assert created

    run_async(main())


def test_checkpoints_keep_the_wal_bounded_under_fast_path_writes(tmp_path: Path) -> None:
    async def main() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            assert b.writer is not None
            run = new_run()
            await b.create_run(run)
            for i in range(3000):
                await b.append_steps(run.id, [NewStep(ts="t", kind="step", key=f"k{i}")])
            await asyncio.sleep(0.2)  # the thread's checkpoint after the last wake-up
            assert b.writer.inlined >= 2900
            wal = Path(b.location + "-wal")
            # Without checkpoints the WAL would hold every commit (> 3000 pages).
            assert wal.stat().st_size < 1200 * 4096 + 32768

    run_async(main())


def test_close_flushes_every_pending_write(tmp_path: Path) -> None:
    runs = [new_run() for _ in range(200)]

    async def write() -> None:
        backend = make(tmp_path)
        await backend.open()
        release, parked = await hold_writer(backend)
        pending = [asyncio.ensure_future(backend.create_run(r)) for r in runs]
        await asyncio.sleep(0)
        release.set()
        await backend.close()
        await parked
        assert all(created for _, created in await asyncio.gather(*pending))
        with pytest.raises(StorageUnavailable, match="closed"):
            await backend.create_run(new_run())
        with pytest.raises(StorageUnavailable):
            await backend.get_run(runs[0].id)

    async def check() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            assert (await b.count_by_status()) == {"queued": 200}

    run_async(write())
    run_async(check())


def test_edges_of_lists_and_logs(tmp_path: Path) -> None:
    async def main() -> None:
        async with opened(lambda: make(tmp_path)) as b:
            run = new_run()
            assert await b.append_logs(run.id, []) == 0
            assert await b.append_logs(run.id, lines("a")) == 1
            assert await b.append_logs(run.id, []) == 1
            assert await b.read_logs(run.id, 0, 0) == []
            with pytest.raises(ValidationFailed) as info:
                await b.list_runs(RunQuery(limit=0))
            assert info.value.details["field"] == "limit"

    run_async(main())
