"""The PostgreSQL backend against the real server: the shared conformance suite, then
what only PostgreSQL has (options, DSN hiding, migrations under an advisory lock,
several nodes on one schema, lost connections, time-outs)."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from seqd_postgres import (
    LATEST,
    MIGRATIONS,
    Migration,
    PostgresBackend,
    PostgresStorageFactory,
    SchemaTooNew,
)
from seqd_postgres import queries as q
from seqd_postgres.schema import migrate, schema_version

from seqd.errors import Conflict, StorageUnavailable, ValidationFailed
from seqd.model.runs import Run, RunChange, RunQuery, RunStatus
from seqd.plugins.host import PluginHost
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

pytestmark = pytest.mark.xdist_group("postgres")

PgMaker = Callable[..., PostgresBackend]
CONTEXT = StorageContext(state_dir="/nonexistent", durability="normal")


class TestPostgresConformance(StorageConformance):
    """The contract every backend keeps, in the mode where its claim is exclusive (a
    shared store is tested with several daemons in ``test_postgres_nodes``)."""

    @pytest.fixture
    def make_backend(self, pg_make: PgMaker) -> BackendMaker:
        return lambda: pg_make(cluster=False)

    @pytest.fixture
    def store_spec(self, pg_dsn: str, pg_schema: str) -> StoreSpec:
        return StoreSpec(
            name="postgres",
            options={"dsn": pg_dsn, "schema": pg_schema, "cluster": False},
            state_dir="/nonexistent",
        )


# -- helpers ------------------------------------------------------------------------------


async def admin(dsn: str) -> psycopg.AsyncConnection[Any]:
    return await psycopg.AsyncConnection.connect(dsn, autocommit=True, connect_timeout=5)


def named_dsn(dsn: str) -> tuple[str, str]:
    """The DSN with a unique application_name, to find the backend's own sessions."""
    app = f"seqd-test-{secrets.token_hex(4)}"
    return make_conninfo(dsn, application_name=app), app


@asynccontextmanager
async def row_locked(dsn: str, schema: str, run_id: str) -> AsyncIterator[None]:
    """Hold the run's row lock from another session, so writes to it wait."""
    conn = await admin(dsn)
    try:
        await conn.execute("BEGIN")
        query = sql.SQL("SELECT 1 FROM {}.runs WHERE id = %s FOR UPDATE").format(
            sql.Identifier(schema)
        )
        await conn.execute(query, (run_id,))
        yield
    finally:
        await conn.close()  # rolls back, releasing the lock


async def waiting_pids(dsn: str, app: str, timeout: float = 30.0) -> list[int]:
    """The backend's sessions blocked on a lock, once there is one."""
    conn = await admin(dsn)
    try:
        deadline = time.monotonic() + timeout
        while True:
            cur = await conn.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE application_name = %s AND wait_event_type = 'Lock'",
                (app,),
            )
            pids = [int(row[0]) for row in await cur.fetchall()]
            if pids:
                return pids
            assert time.monotonic() < deadline, "the call never waited on the lock"
            await asyncio.sleep(0.02)
    finally:
        await conn.close()


async def terminate_sessions(dsn: str, app: str) -> int:
    """pg_terminate_backend every session of ``app`` and wait until they are gone."""
    conn = await admin(dsn)
    try:
        cur = await conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (app,)
        )
        pids = [int(row[0]) for row in await cur.fetchall()]
        await conn.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) pid", (pids,))
        deadline = time.monotonic() + 30
        while True:
            cur = await conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s::int[])", (pids,)
            )
            row = await cur.fetchone()
            if row is not None and row[0] == 0:
                return len(pids)
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
    finally:
        await conn.close()


def catalog(pg_admin: Callable[[], psycopg.Connection[Any]], schema: str) -> list[Any]:
    """Everything the migrations made in ``schema``: relations, index definitions and
    the migration records."""
    with pg_admin() as conn:
        relations = conn.execute(
            "SELECT c.relname, c.relkind FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s ORDER BY 1",
            (schema,),
        ).fetchall()
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s ORDER BY 1",
            (schema,),
        ).fetchall()
        versions = conn.execute(
            sql.SQL(
                "SELECT version, description, applied_at FROM {}.schema_migrations ORDER BY 1"
            ).format(sql.Identifier(schema))
        ).fetchall()
    return [relations, indexes, versions]


# -- plugin and options ---------------------------------------------------------------------


def test_registered_through_the_entry_point() -> None:
    host = PluginHost()
    host.load(builtins=(), entry_points=True)
    assert host.records["postgres"].error is None
    factory = host.storage.get("postgres")
    assert factory is not None and host.storage.owner("postgres") == "postgres"
    backend = factory.create({"dsn": "postgresql://u@h/db"}, CONTEXT)
    assert isinstance(backend, PostgresBackend) and backend.name == "postgres"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"dsnn": "postgresql://h/db"}, "backends.postgres.dsnn"),
        ({"dsn": 5}, "backends.postgres.dsn"),
        ({"dsn": "host=h nonsense"}, "backends.postgres.dsn"),
        ({"dsn": "   "}, "backends.postgres.dsn"),
        ({"schema": "Bad-Name"}, "backends.postgres.schema"),
        ({"schema": ""}, "backends.postgres.schema"),
        ({"schema": "pg_mine"}, "backends.postgres.schema"),
        ({"min_size": -1}, "backends.postgres.min_size"),
        ({"max_size": 0}, "backends.postgres.max_size"),
        ({"min_size": 5, "max_size": 2}, "backends.postgres.min_size"),
        ({"connect_timeout_s": 0}, "backends.postgres.connect_timeout_s"),
        ({"pool_timeout_s": "soon"}, "backends.postgres.pool_timeout_s"),
        ({"statement_timeout_s": -1}, "backends.postgres.statement_timeout_s"),
    ],
)
def test_bad_options_name_the_field(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        PostgresStorageFactory().create({"dsn": "postgresql://u@h/db", **options}, CONTEXT)
    assert info.value.details["field"] == field
    assert info.value.message.startswith(field + ":")


def test_dsn_is_required_unless_the_environment_has_one(
    monkeypatch: pytest.MonkeyPatch, pg_dsn: str, pg_schema: str
) -> None:
    monkeypatch.delenv("SEQD_POSTGRES_DSN", raising=False)
    with pytest.raises(ValidationFailed, match="SEQD_POSTGRES_DSN") as info:
        PostgresStorageFactory().create({}, CONTEXT)
    assert info.value.details["field"] == "backends.postgres.dsn"

    monkeypatch.setenv("SEQD_POSTGRES_DSN", pg_dsn)
    backend = PostgresStorageFactory().create({"schema": pg_schema}, CONTEXT)

    async def main() -> None:
        async with opened(lambda: backend) as b:
            run = new_run()
            assert (await b.create_run(run))[1] > 0

    run_async(main())
    # The option wins over the environment (a --storage-opt flag can override it).
    monkeypatch.setenv("SEQD_POSTGRES_DSN", "postgresql://env@elsewhere/db")
    chosen = PostgresStorageFactory().create({"dsn": "postgresql://opt@here/db"}, CONTEXT)
    assert chosen.location == "postgresql://opt@here/db"


def test_bad_durability_is_refused() -> None:
    context = StorageContext(state_dir="/x", durability="fast")
    with pytest.raises(ValidationFailed) as info:
        PostgresStorageFactory().create({"dsn": "postgresql://u@h/db"}, context)
    assert info.value.details["field"] == "durability"


@pytest.mark.parametrize(
    ("dsn", "location"),
    [
        (
            "postgresql://alice:s3cr3t@db.example:5432/seqd?sslmode=require",
            "postgresql://alice@db.example:5432/seqd?sslmode=require",
        ),
        (
            "postgres://alice@db.example/seqd?password=s3cr3t&connect_timeout=3",
            "postgres://alice@db.example/seqd?connect_timeout=3",
        ),
        (
            "postgresql://postgres.abcdefghijkl:s3cr3t%40x@aws-0-eu-central-1.pooler.supabase.com"
            ":5432/postgres?sslmode=require",
            "postgresql://postgres.abcdefghijkl@aws-0-eu-central-1.pooler.supabase.com:5432"
            "/postgres?sslmode=require",
        ),
        ("host=db.example user=alice password=s3cr3t dbname=seqd", None),
    ],
)
def test_location_hides_the_password(dsn: str, location: str | None) -> None:
    backend = PostgresStorageFactory().create({"dsn": dsn}, CONTEXT)
    assert "s3cr3t" not in backend.location
    if location is not None:
        assert backend.location == location
    else:
        assert "host=db.example" in backend.location and "user=alice" in backend.location


def test_no_password_in_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    secret = "s3cr3t-Pa55"  # noqa: S105 - a fake one, to look for
    with pytest.raises(ValidationFailed) as bad:
        PostgresStorageFactory().create({"dsn": f"host=h password={secret} junk"}, CONTEXT)
    assert secret not in bad.value.message and "junk" not in bad.value.message

    backend = PostgresStorageFactory().create(
        {"dsn": f"postgresql://alice:{secret}@127.0.0.1:1/db", "connect_timeout_s": 2}, CONTEXT
    )
    caplog.set_level(logging.DEBUG)

    async def main() -> None:
        await backend.open()

    with pytest.raises(StorageUnavailable) as down:
        run_async(main())
    assert down.value.message.startswith(
        "cannot open PostgreSQL at postgresql://alice@127.0.0.1:1/db: "
    )
    assert secret not in down.value.message
    assert secret not in caplog.text


def test_unreachable_server_is_unavailable_not_a_hang() -> None:
    backend = PostgresStorageFactory().create(
        {"dsn": "postgresql://postgres@127.0.0.1:1/test", "connect_timeout_s": 2}, CONTEXT
    )

    async def main() -> None:
        await backend.open()

    started = time.monotonic()
    with pytest.raises(StorageUnavailable, match="refused") as info:
        run_async(main(), timeout_s=60)
    assert time.monotonic() - started < 50
    assert info.value.details["location"] == "postgresql://postgres@127.0.0.1:1/test"


# -- schema and migrations --------------------------------------------------------------------


def test_schema_is_created_and_put_on_the_search_path(
    pg_make: PgMaker, pg_schema: str, pg_admin: Callable[[], psycopg.Connection[Any]]
) -> None:
    async def main() -> list[Any]:
        async with opened(lambda: pg_make(durability="full", statement_timeout_s=7)) as b:

            async def settings(conn: psycopg.AsyncConnection[Any]) -> list[Any]:
                cur = await conn.execute(
                    "SELECT current_setting('search_path'), current_setting('statement_timeout'),"
                    " current_setting('synchronous_commit')"
                )
                return list(await cur.fetchall())

            return await b._read(settings)

    assert run_async(main()) == [(f'"{pg_schema}"', "7s", "on")]
    with pg_admin() as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", (pg_schema,)
        ).fetchall()
    assert [t[0] for t in tables] == [
        "alert_events",
        "kv",
        "log_seqs",
        "logs",
        "nodes",
        "run_change_counter",
        "run_transitions",
        "run_transitions_pruned",
        "runs",
        "schedules",
        "schema_migrations",
        "step_seqs",
        "steps",
    ]


def test_migrations_are_idempotent_on_reopen(
    pg_make: PgMaker, pg_schema: str, pg_admin: Callable[[], psycopg.Connection[Any]]
) -> None:
    run = new_run()

    async def first() -> None:
        async with opened(pg_make) as b:
            await b.create_run(run)

    async def again() -> None:
        async with opened(pg_make) as b:
            assert await b.get_run(run.id) == run

    run_async(first())
    before = catalog(pg_admin, pg_schema)
    assert [v[0] for v in before[2]] == list(range(1, LATEST + 1))
    assert {"runs", "logs", "log_seqs", "runs_status_id", "steps", "step_seqs"} <= {
        r[0] for r in before[0]
    }
    run_async(again())
    run_async(again())
    assert catalog(pg_admin, pg_schema) == before


def test_concurrent_opens_migrate_once(
    pg_make: PgMaker, pg_schema: str, pg_admin: Callable[[], psycopg.Connection[Any]]
) -> None:
    async def main() -> None:
        backends = [pg_make() for _ in range(6)]
        await asyncio.gather(*(b.open() for b in backends))
        try:
            runs = [new_run() for _ in backends]
            await asyncio.gather(*(b.create_run(r) for b, r in zip(backends, runs, strict=True)))
            for b in backends:
                assert (await b.count_by_status()) == {"queued": len(runs)}
        finally:
            await asyncio.gather(*(b.close() for b in backends))

    run_async(main())
    assert [v[0] for v in catalog(pg_admin, pg_schema)[2]] == list(range(1, LATEST + 1))


def test_a_new_migration_applies_once_and_a_failed_one_changes_nothing(
    pg_make: PgMaker, pg_dsn: str, pg_schema: str
) -> None:
    kv = Migration(LATEST + 1, "extra table", ("CREATE TABLE extra (k text PRIMARY KEY, v text)",))
    broken = Migration(
        LATEST + 1, "broken", ("CREATE TABLE half_done (x int)", "SELECT 1 / (SELECT 0)")
    )

    async def main() -> None:
        async with opened(pg_make):
            pass
        conn = await admin(pg_dsn)
        try:
            with pytest.raises(psycopg.errors.DivisionByZero):
                await migrate(conn, pg_schema, (*MIGRATIONS, broken))
            assert await schema_version(conn, pg_schema) == LATEST
            missing = await conn.execute("SELECT to_regclass(%s)", (f"{pg_schema}.half_done",))
            assert await missing.fetchone() == (None,)

            assert await migrate(conn, pg_schema, (*MIGRATIONS, kv)) == LATEST + 1
            assert await migrate(conn, pg_schema, (*MIGRATIONS, kv)) == LATEST + 1
            assert await schema_version(conn, pg_schema) == LATEST + 1
            present = await conn.execute("SELECT to_regclass(%s)::text", (f"{pg_schema}.extra",))
            assert await present.fetchone() == (f"{pg_schema}.extra",)
            with pytest.raises(ValueError, match="in order"):
                await migrate(conn, pg_schema, (*MIGRATIONS, Migration(LATEST + 2, "gap", ())))
        finally:
            await conn.close()

    run_async(main())


def test_a_version_1_store_gains_the_journal_and_keeps_its_data(
    pg_make: PgMaker, pg_dsn: str, pg_schema: str
) -> None:
    """A store written by the seqd before the journal (schema version 1) is migrated at
    open: its runs and logs stay, and journals work."""
    run = new_run()

    async def main() -> None:
        conn = await admin(pg_dsn)
        try:
            assert await migrate(conn, pg_schema, MIGRATIONS[:1]) == 1
            # What that seqd wrote, with its own statements.
            await conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(pg_schema)))
            await conn.execute(OLD_INSERT_RUN, old_run_row(run))
            old_line = {
                "run": run.id,
                "n": 1,
                "ts": ["t"],
                "streams": ["stdout"],
                "texts": ["kept"],
            }
            await conn.execute(q.APPEND_LOGS, old_line)
        finally:
            await conn.close()
        async with opened(pg_make) as b:
            assert await b.get_run(run.id) == run
            assert [g.text for g in await b.read_logs(run.id, 0, 10)] == ["kept"]
            assert await b.read_steps(run.id, 0, 10) == []
            assert await b.append_steps(run.id, [new_step("s", "a"), new_step("s", "b")]) == 2
            assert [g.key for g in await b.read_steps(run.id, 0, 10)] == ["a", "b"]
            # Version 4 numbered the run it found; new writes come after it.
            assert await b.run_changes(0, 10) == [RunChange(position=1, run=run)]
            assert await b.update_run(changed(run, status="running")) == 2
        conn = await admin(pg_dsn)
        try:
            assert await schema_version(conn, pg_schema) == LATEST
        finally:
            await conn.close()

    run_async(main())


OLD_INSERT_RUN = (
    "INSERT INTO runs (id, task, status, parent_id, root_id, idempotency_key, created_at, data)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)
"""How a seqd before idempotency scopes (schema versions 1 to 3) inserted a run."""


def old_run_row(run: Run) -> tuple[Any, ...]:
    return (
        run.id, run.task, run.status, run.parent_id, run.root_id, run.idempotency_key,
        run.created_at, legacy_json(run),
    )  # fmt: skip


def test_version_3_runs_get_their_idempotency_scopes(
    pg_make: PgMaker, pg_dsn: str, pg_schema: str
) -> None:
    """A store from before scopes is migrated at open: every keyed run gets the scope
    its submitter or parent gives it (a NUL elsewhere in a run's record included);
    keys are then unique per scope."""
    old = legacy_runs()

    async def main() -> None:
        conn = await admin(pg_dsn)
        try:
            assert await migrate(conn, pg_schema, MIGRATIONS[:3]) == 3
            await conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(pg_schema)))
            for run, _ in old:
                await conn.execute(OLD_INSERT_RUN, old_run_row(run))
        finally:
            await conn.close()
        async with opened(pg_make) as b:
            await check_migrated(b, old)

    run_async(main())


def test_a_newer_schema_is_refused(
    pg_make: PgMaker, pg_schema: str, pg_admin: Callable[[], psycopg.Connection[Any]]
) -> None:
    async def create() -> None:
        async with opened(pg_make) as b:
            await b.create_run(new_run())

    run_async(create())
    with pg_admin() as conn:
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.schema_migrations (version, description) VALUES (%s, %s)"
            ).format(sql.Identifier(pg_schema)),
            (LATEST + 1, "from the future"),
        )
    before = catalog(pg_admin, pg_schema)
    backend = pg_make()

    async def reopen() -> None:
        await backend.open()

    with pytest.raises(SchemaTooNew) as info:
        run_async(reopen())
    assert isinstance(info.value, StorageUnavailable)
    assert "newer seqd" in info.value.message and backend.location in info.value.message
    assert info.value.details == {"found": LATEST + 1, "supported": LATEST}
    assert catalog(pg_admin, pg_schema) == before


# -- several nodes on one schema --------------------------------------------------------------


def test_two_nodes_share_one_store(pg_make: PgMaker) -> None:
    async def main() -> None:
        async with opened(pg_make) as a, opened(pg_make) as b:
            run = new_run(task="shared")
            assert (await a.create_run(run))[1] > 0
            assert await b.get_run(run.id) == run
            running = changed(run, status="running", node="b")
            assert await b.update_run(running, expect=["queued"]) > 0
            # Node a still believes the run is queued: its compare-and-set loses.
            assert await a.update_run(changed(run, status="cancelled"), expect=["queued"]) == 0
            assert await a.get_run(run.id) == running
            assert (await a.list_runs(RunQuery(task="shared"))).runs == [running]
            assert await a.unfinished_runs() == [running]

            # Concurrent compare-and-set from both nodes: exactly one winner.
            endings: list[RunStatus] = ["succeeded", "failed", "cancelled"] * 10
            attempts = [changed(running, status=s, output=i) for i, s in enumerate(endings)]
            won = await asyncio.gather(
                *(
                    (a if i % 2 else b).update_run(x, expect=["running"])
                    for i, x in enumerate(attempts)
                )
            )
            winners = [i for i, position in enumerate(won) if position > 0]
            assert len(winners) == 1
            winner = attempts[winners[0]]
            assert await a.get_run(run.id) == winner and await b.get_run(run.id) == winner

            # An idempotency race across nodes: one run is created, everyone gets it.
            racers = [new_run(idempotency_key="across-nodes") for _ in range(40)]
            results = await asyncio.gather(
                *((a if i % 2 else b).create_run(r) for i, r in enumerate(racers))
            )
            created = [stored for stored, fresh in results if fresh]
            assert len(created) == 1
            assert {stored.id for stored, _ in results} == {created[0].id}
            assert await a.get_run(created[0].id) == created[0]

            # Log lines from both nodes are numbered as one sequence.
            seqs = await asyncio.gather(
                *(
                    (a if i % 2 else b).append_logs(run.id, lines(f"n{i}", f"m{i}"))
                    for i in range(20)
                )
            )
            assert sorted(seqs) == list(range(2, 41, 2))
            got = await b.read_logs(run.id, 0, 100)
            assert [line.seq for line in got] == list(range(1, 41))

            # So are journal entries: each append whole, in its own order, no seq twice.
            seqs = await asyncio.gather(
                *(
                    (a if i % 2 else b).append_steps(
                        run.id, [new_step("s", f"{i}.0"), new_step("s", f"{i}.1")]
                    )
                    for i in range(20)
                )
            )
            assert sorted(seqs) == list(range(2, 41, 2))
            steps = await a.read_steps(run.id, 0, 100)
            assert [step.seq for step in steps] == list(range(1, 41))
            for first, second in zip(steps[::2], steps[1::2], strict=True):
                assert (first.key[-2:], second.key[-2:]) == (".0", ".1")
                assert first.key[:-2] == second.key[:-2]
            assert (await a.count_by_status()) == (await b.count_by_status())

    run_async(main())


# -- values PostgreSQL cannot hold, conflicts, edges ------------------------------------------


def test_values_and_conflicts(pg_make: PgMaker) -> None:
    async def main() -> None:
        async with opened(pg_make) as b:
            run = new_run(input={"nul": "a\x00b"})
            await b.create_run(run)
            assert await b.get_run(run.id) == run  # JSON escapes the NUL
            assert await b.append_logs(run.id, lines("before\x00after")) == 1
            assert [g.text for g in await b.read_logs(run.id, 0, 10)] == ["before\ufffdafter"]
            with pytest.raises(ValidationFailed, match="NUL"):
                await b.create_run(new_run(idempotency_key="k\x00"))
            with pytest.raises(Conflict, match="already exists"):
                await b.create_run(changed(run, input={}))
            keyed = new_run(idempotency_key="mine")
            await b.create_run(keyed)
            with pytest.raises(Conflict, match="another run"):
                await b.update_run(
                    changed(run, idempotency_key="mine", idempotency_scope=keyed.idempotency_scope)
                )
            assert await b.get_run(run.id) == run
            assert await b.append_logs(run.id, []) == 1
            assert await b.append_logs(new_run().id, []) == 0
            assert await b.read_logs(run.id, 0, 0) == []
            # A journal entry is JSON text: a NUL in it comes back exactly.
            nul = new_step("state", "k\x00", data={"output": "x\x00y"})
            assert await b.append_steps(run.id, [nul]) == 1
            (got,) = await b.read_steps(run.id, 0, 10)
            assert (got.seq, got.key, got.data) == (1, "k\x00", {"output": "x\x00y"})
            assert await b.append_steps(run.id, []) == 1
            assert await b.append_steps(new_run().id, []) == 0
            with pytest.raises(ValidationFailed) as info:
                await b.list_runs(RunQuery(limit=0))
            assert info.value.details["field"] == "limit"
        with pytest.raises(StorageUnavailable, match="closed"):
            await b.get_run(run.id)

    run_async(main())


# -- lost connections and time-outs -----------------------------------------------------------


def test_idle_connections_killed_by_the_server_are_replaced_silently(
    pg_make: PgMaker, pg_dsn: str
) -> None:
    dsn, app = named_dsn(pg_dsn)

    async def main() -> None:
        async with opened(lambda: pg_make(dsn=dsn, min_size=4)) as b:
            runs = [new_run() for _ in range(40)]
            await asyncio.gather(*(b.create_run(r) for r in runs))  # several connections
            assert await terminate_sessions(pg_dsn, app) >= 2
            # Every pooled connection is dead; no call may notice.
            for run in runs[:10]:
                assert await b.get_run(run.id) == run
                assert await b.update_run(changed(run, status="running"), expect=["queued"])
            more = [new_run() for _ in range(20)]
            await asyncio.gather(*(b.create_run(r) for r in more))
            assert (await b.count_by_status()) == {"queued": 50, "running": 10}

    run_async(main())


def test_admin_shutdown_mid_query_is_unavailable_then_recovers(
    pg_make: PgMaker, pg_dsn: str, pg_schema: str
) -> None:
    dsn, app = named_dsn(pg_dsn)

    async def main() -> None:
        async with opened(lambda: pg_make(dsn=dsn)) as b:
            run = new_run()
            await b.create_run(run)
            async with row_locked(pg_dsn, pg_schema, run.id):
                blocked = asyncio.ensure_future(b.update_run(changed(run, status="running")))
                pids = await waiting_pids(pg_dsn, app)
                conn = await admin(pg_dsn)
                await conn.execute("SELECT pg_terminate_backend(%s)", (pids[0],))
                await conn.close()
                with pytest.raises(StorageUnavailable, match="administrator command") as info:
                    await blocked
                assert info.value.details["sqlstate"] == "57P01"
            assert await b.get_run(run.id) == run  # the write did not happen
            assert await b.update_run(changed(run, status="running"), expect=["queued"])
            assert (await b.get_run(run.id)) == changed(run, status="running")

    run_async(main())


def test_statement_timeout_is_unavailable_not_a_hang(
    pg_make: PgMaker, pg_dsn: str, pg_schema: str
) -> None:
    async def main() -> None:
        async with opened(lambda: pg_make(statement_timeout_s=0.5)) as b:
            run = new_run()
            await b.create_run(run)
            async with row_locked(pg_dsn, pg_schema, run.id):
                with pytest.raises(StorageUnavailable, match="statement timeout"):
                    await b.update_run(changed(run, status="running"))
            assert await b.update_run(changed(run, status="running"))

    run_async(main())


def test_exhausted_pool_is_unavailable_not_a_hang(
    pg_make: PgMaker, pg_dsn: str, pg_schema: str
) -> None:
    async def main() -> None:
        async with opened(lambda: pg_make(min_size=1, max_size=1, pool_timeout_s=0.5)) as b:
            run = new_run()
            await b.create_run(run)
            async with row_locked(pg_dsn, pg_schema, run.id):
                holder = asyncio.ensure_future(b.update_run(changed(run, status="running")))
                await asyncio.sleep(0.2)
                with pytest.raises(StorageUnavailable, match="no connection could be had"):
                    await b.get_run(run.id)
            assert await holder > 0
            assert (await b.get_run(run.id)) == changed(run, status="running")

    run_async(main())


# -- group commit ---------------------------------------------------------------------------


def test_writes_issued_together_share_a_transaction_and_fail_alone(
    pg_make: PgMaker, pg_dsn: str, pg_schema: str
) -> None:
    dsn, app = named_dsn(pg_dsn)

    async def main() -> None:
        async with opened(lambda: pg_make(dsn=dsn)) as b:
            held, taken, keyed = new_run(), new_run(), new_run(idempotency_key="k")
            for run in (held, taken, keyed):
                await b.create_run(run)
            assert b.writer is not None

            async def behind_a_busy_writer(*calls: Any) -> list[Any]:
                """Park the writer on a locked row, queue ``calls``, then let it go."""
                assert b.writer is not None
                async with row_locked(pg_dsn, pg_schema, held.id):
                    parked = asyncio.ensure_future(b.update_run(held))
                    await waiting_pids(pg_dsn, app)
                    before = b.writer.batches
                    pending = [asyncio.ensure_future(c) for c in calls]
                    await asyncio.sleep(0.2)
                assert await parked > 0
                results = await asyncio.gather(*pending, return_exceptions=True)
                return [b.writer.batches - before, *results]

            first, second = new_run(), new_run()
            got = await behind_a_busy_writer(
                b.create_run(first),
                b.update_run(changed(taken, status="running"), expect=["queued"]),
                b.append_logs(first.id, lines("a", "b")),
                b.create_run(second),
            )
            assert got[:2] == [1, (first, got[1][1])] and got[3:] == [2, (second, got[4][1])]
            assert 0 < got[1][1] < got[2] < got[4][1]  # one transaction, in order

            third, fourth = new_run(), new_run()
            got = await behind_a_busy_writer(
                b.create_run(third),
                b.create_run(changed(taken, input={"again": True})),  # its id is taken
                b.update_run(  # steals a key
                    changed(first, idempotency_key="k", idempotency_scope=keyed.idempotency_scope)
                ),
                b.append_logs(first.id, lines("c")),
                b.create_run(fourth),
            )
            # The unique violation rolled the batch back; each write then went alone.
            assert got[0] == 1 + 5
            assert got[1][0] == third and got[5][0] == fourth and got[4] == 3
            assert 0 < got[1][1] < got[5][1]
            assert isinstance(got[2], Conflict) and "already exists" in got[2].message
            assert isinstance(got[3], Conflict) and "another run" in got[3].message
            assert await b.get_run(first.id) == first
            assert await b.get_run(taken.id) == changed(taken, status="running")
            assert [g.text for g in await b.read_logs(first.id, 0, 10)] == ["a", "b", "c"]

    run_async(main())
