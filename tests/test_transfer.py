"""``seqd export`` / ``seqd import``: a round trip between every backend, idempotent,
and refusing what is not an export."""

from __future__ import annotations

import asyncio
import io
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from seqd.model.runs import NewLogLine, NewStep, Run, RunError
from seqd.model.schedules import Schedule
from seqd.plugins.host import PluginHost
from seqd.plugins.storage import StorageBackend, StorageContext
from seqd.storage.transfer import READ_BYTES, TransferError, export_store, import_store, read_lines
from seqd.testing.storage.legacy import legacy_record, legacy_runs

DSN = os.environ.get("SEQD_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def _postgres_reachable() -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(DSN, connect_timeout=3):
            return None
    except Exception as exc:
        return f"PostgreSQL at {DSN} is unreachable: {exc}"


class Sink:
    """What ``export_store`` writes to, in memory: async writes, kept as bytes."""

    def __init__(self) -> None:
        self.buf = io.BytesIO()
        self.writes = 0

    async def write(self, data: bytes) -> None:
        self.writes += 1
        self.buf.write(data)

    def getvalue(self) -> bytes:
        return self.buf.getvalue()


def lines_of(data: bytes) -> AsyncIterator[bytes]:
    """``data`` as ``import_store`` reads a file: lines cut from async reads."""
    stream = io.BytesIO(data)

    async def read(size: int) -> bytes:
        return stream.read(size)

    return read_lines(read)


SCHEMA = f"seqd_transfer_{uuid.uuid4().hex[:12]}"
"""The PostgreSQL schema of this test process, dropped after each test."""


def backend_options(name: str, tmp: Path) -> dict[str, Any]:
    if name == "postgres":
        return {"dsn": DSN, "schema": SCHEMA}
    return {}


def _drop_schema() -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(DSN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))


@pytest.fixture(params=["sqlite", "fs", "postgres"])
def backend_name(request: pytest.FixtureRequest) -> Iterator[str]:
    name = request.param
    host = PluginHost()
    host.load()
    if host.storage.get(name) is None:
        _unavailable(f"storage backend {name!r} is not installed")
    if name == "postgres":
        why = _postgres_reachable()
        if why:
            _unavailable(why)
    yield name
    if name == "postgres":
        _drop_schema()


def _unavailable(why: str) -> None:
    """Skip here; under CI=true a missing backend or server is a failure."""
    if os.environ.get("CI") == "true":
        pytest.fail(why)
    pytest.skip(why)


def open_store(name: str, tmp: Path, options: dict[str, Any]) -> StorageBackend:
    host = PluginHost()
    host.load()
    factory = host.storage.get(name)
    assert factory is not None
    return factory.create(options, StorageContext(state_dir=str(tmp), durability="normal"))


async def fill(store: StorageBackend) -> list[Run]:
    runs = []
    for i in range(30):
        run = Run(
            id=f"{i:024x}",
            task="t" if i % 2 else "other",
            status=("succeeded", "failed", "queued", "running")[i % 4],
            input={"i": i, "ü": "ünïcode ✓"},
            output={"big": "x" * 1000} if i % 3 == 0 else None,
            error=RunError(type="exception", message="boom") if i % 4 == 1 else None,
            idempotency_key=f"key-{i}" if i % 5 == 0 else None,
            idempotency_scope=f"uid:{i}" if i % 5 == 0 else None,
            created_at=f"2026-01-01T00:00:{i:02d}.000000Z",
        )
        await store.create_run(run)
        await store.append_logs(
            run.id, [NewLogLine(ts="t", stream="stdout", text=f"line {n}") for n in range(i * 3)]
        )
        await store.append_steps(run.id, journal(i))
        runs.append(run)
    for namespace, n in (("global", 3), ("task/etl", 1200), ("task/ü ns", 1)):
        for k in range(n):
            await store.kv_set(namespace, f"key {k}", {"k": k, "nul": "a\x00b"} if k % 2 else k)
    for name, fields in SCHEDULES.items():
        stamp = "2026-01-01T00:00:00.000000Z"
        await store.save_schedule(
            Schedule(
                name=name, task="t", created_at=stamp, updated_at=stamp, cursor=stamp, **fields
            )  # fmt: skip
        )
    return runs


SCHEDULES: dict[str, dict[str, Any]] = {
    "nightly": {"cron": "0 3 * * *", "tz": "Europe/Berlin", "input": {"nul": "a\x00b"}},
    "t/ü every": {"every": "90s", "origin": "config", "queued": ["2026-01-01T00:00:00Z"]},
}


KV_KEYS = 3 + 1200 + 1


def journal(i: int) -> list[NewStep]:
    """Run ``i``'s journal: ``i % 4`` entries, with the kinds of values a flow records;
    run 7's goes on with 2,500 more (a map over many items: several ``steps`` records)."""
    more = [NewStep(ts="t", kind="item", key=f"map#{n}") for n in range(2500 if i == 7 else 0)]
    return [
        NewStep(
            ts=f"2026-01-01T00:00:{n:02d}.000000Z",
            kind=("transition", "child", "state", "wait")[n],
            key=f"s{n}#{i}",
            name=f"state {n}" if n else "",
            status="succeeded" if n == 2 else "",
            data={"n": n, "out": {"ü": "✓", "nul": "a\x00b", "list": [1, 2.5, None]}},
        )
        for n in range(i % 4)
    ] + more


JOURNALED = sum(i % 4 for i in range(30)) + 2500


async def dump(store: StorageBackend) -> bytes:
    out = Sink()
    await export_store(store, out.write)
    # the header carries a timestamp and the source (so the trailer's checksum
    # differs), an imported kv key the time of the import; compare the rest
    body = b"\n".join(out.getvalue().splitlines()[1:-1])
    return re.sub(rb'"updated_at":"[^"]*"', b'"updated_at":"-"', body)


@pytest.mark.xdist_group("postgres")  # never beside the test that stops the server
def test_round_trip_to_every_backend(backend_name: str, tmp_path: Path) -> None:
    async def main() -> None:
        source = open_store("sqlite", tmp_path / "src", {})
        await source.open()
        await fill(source)
        buf = Sink()
        counts = await export_store(source, buf.write)
        assert counts.runs == 30 and counts.log_lines == sum(i * 3 for i in range(30))
        assert counts.steps == JOURNALED
        assert counts.kv_keys == KV_KEYS
        # 21 short journals, and run 7's 2,503 entries in three records of up to 1,000
        assert buf.getvalue().count(b'{"type":"steps",') == 21 + 3
        assert buf.writes < 10  # gathered into few writes, not one per record
        target = open_store(backend_name, tmp_path / "dst", backend_options(backend_name, tmp_path))
        await target.open()
        try:
            got = await import_store(target, lines_of(buf.getvalue()))
            assert (got.runs, got.skipped, got.steps, got.kv_keys) == (30, 0, JOURNALED, KV_KEYS)
            assert got.schedules == counts.schedules == len(SCHEDULES)
            assert await target.list_schedules() == await source.list_schedules()
            assert await target.kv_namespaces() == ["global", "task/etl", "task/ü ns"]
            entry = await target.kv_get("task/etl", "key 7")
            assert entry is not None and entry.value == {"k": 7, "nul": "a\x00b"}
            assert await dump(target) == await dump(source)
            for i in range(30):  # the journals themselves, not only their export
                steps = await target.read_steps(f"{i:024x}", 0, 10_000)
                want = journal(i)
                assert [s.seq for s in steps] == list(range(1, len(want) + 1))
                assert [(s.ts, s.kind, s.key, s.name, s.status, s.data) for s in steps] == [
                    (w.ts, w.kind, w.key, w.name, w.status, w.data) for w in want
                ]
            # a second import adds nothing
            again = await import_store(target, lines_of(buf.getvalue()))
            assert (again.runs, again.skipped, again.log_lines, again.steps) == (0, 30, 0, 0)
            assert again.kv_keys == 0  # existing keys are never overwritten
            assert again.schedules == 0  # nor existing schedules
            assert await dump(target) == await dump(source)
            # and back again: the copy exports to the same bytes
            back = open_store("sqlite", tmp_path / "back", {})
            await back.open()
            out = Sink()
            await export_store(target, out.write)
            await import_store(back, lines_of(out.getvalue()))
            assert await dump(back) == await dump(source)
            await back.close()
        finally:
            await target.close()
            await source.close()

    asyncio.run(main())


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (b'{"run": 1}\n', "line 1"),
        (
            b'{"type":"run","run":{"id":"a","task":"t","status":"queued","created_at":"x"}}\n',
            "header",
        ),
        (
            b'{"type":"header","format":"other","version":1,"exported_at":"x","source":"y"}\n',
            "unsupported",
        ),
        (b"", "no header"),
    ],
)
def test_import_refuses_what_is_not_an_export(tmp_path: Path, text: bytes, needle: str) -> None:
    async def main() -> None:
        store = open_store("sqlite", tmp_path, {})
        await store.open()
        try:
            with pytest.raises(TransferError, match=needle):
                await import_store(store, lines_of(text))
        finally:
            await store.close()

    asyncio.run(main())


def test_a_version_1_export_still_imports_and_a_newer_one_is_refused(tmp_path: Path) -> None:
    """v1 (before journals) has no ``steps`` records; a future version may hold records
    this seqd cannot know, so it is refused before anything is imported."""
    run = b'{"type":"run","run":{"id":"%s","task":"t","status":"queued","created_at":"x"}}\n'
    header = (
        b'{"type":"header","format":"seqd-export","version":%d,"exported_at":"x","source":"y"}\n'
    )
    line = b'{"seq":1,"ts":"t","stream":"stdout","text":"hi"}'
    logs = b'{"type":"logs","run_id":"%s","lines":[' + line + b"]}\n"

    async def main() -> None:
        store = open_store("sqlite", tmp_path, {})
        await store.open()
        try:
            v1 = header % 1 + run % (b"a" * 24) + logs % (b"a" * 24)
            with pytest.raises(TransferError, match="allow-unverified"):
                await import_store(store, lines_of(v1))  # no trailer: not without consent
            assert await store.get_run("a" * 24) is None
            counts = await import_store(store, lines_of(v1), allow_unverified=True)
            assert (counts.runs, counts.log_lines, counts.steps) == (1, 1, 0)
            assert [g.text for g in await store.read_logs("a" * 24, 0, 10)] == ["hi"]
            with pytest.raises(TransferError, match="unsupported export seqd-export v6"):
                await import_store(store, lines_of(header % 6 + run % (b"b" * 24)))
            assert await store.get_run("b" * 24) is None
        finally:
            await store.close()

    asyncio.run(main())


def test_an_export_from_before_scopes_gets_them_on_import(tmp_path: Path) -> None:
    """Keyed runs exported before idempotency scopes get the scope the stores'
    migrations give them, and importing twice skips every run the second time."""
    old = legacy_runs()
    header = b'{"type":"header","format":"seqd-export","version":3,"exported_at":"x","source":"y"}'
    records = [header] + [
        msgspec.json.encode({"type": "run", "run": legacy_record(run)}) for run, _ in old
    ]

    async def main() -> None:
        store = open_store("sqlite", tmp_path, {})
        await store.open()
        try:
            imported = await import_store(store, lines_of(b"\n".join(records)), True)
            assert imported.runs == len(old)
            for run, scope in old:
                stored = await store.get_run(run.id)
                assert stored is not None and stored.idempotency_scope == scope
            again = await import_store(store, lines_of(b"\n".join(records)), True)
            assert (again.runs, again.skipped) == (0, len(old))
        finally:
            await store.close()

    asyncio.run(main())


def seed(state_dir: Path) -> None:
    """A SQLite store in ``state_dir`` filled by ``fill``."""

    async def main() -> None:
        store = open_store("sqlite", state_dir, {})
        await store.open()
        await fill(store)
        await store.close()

    asyncio.run(main())


def test_cli_export_import(tmp_path: Path) -> None:
    seed(tmp_path / "a")
    env = {**os.environ, "SEQD_CONFIG": ""}
    dump_file = tmp_path / "dump.jsonl"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "seqd",
            "export",
            "--state-dir",
            str(tmp_path / "a"),
            "-o",
            str(dump_file),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert (
        f"exported 30 runs, {sum(i * 3 for i in range(30))} log lines, {JOURNALED} journal entries"
        in out.stderr
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "seqd",
            "import",
            "--state-dir",
            str(tmp_path / "b"),
            "--storage-opt",
            "path=copy.db",
            str(dump_file),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert (
        f"imported 30 runs, {sum(i * 3 for i in range(30))} log lines, {JOURNALED} journal"
        in out.stderr
    )
    assert (tmp_path / "b" / "copy.db").exists()
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "seqd",
            "import",
            "--state-dir",
            str(tmp_path / "c"),
            str(tmp_path / "missing.jsonl"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert bad.returncode == 1 and "missing.jsonl" in bad.stderr


def test_read_lines_cuts_lines_across_reads() -> None:
    long = b"x" * (READ_BYTES * 2 + 7)  # longer than two reads
    data = b"a\n\nb\n" + long + b"\nlast without an end"

    async def main() -> list[bytes]:
        return [line async for line in lines_of(data)]

    assert asyncio.run(main()) == [b"a", b"", b"b", long, b"last without an end"]


def test_cli_export_to_stdout_and_import_from_stdin(tmp_path: Path) -> None:
    seed(tmp_path / "a")
    env = {**os.environ, "SEQD_CONFIG": ""}
    seqd = [sys.executable, "-m", "seqd"]
    exported = subprocess.run(
        [*seqd, "export", "--state-dir", str(tmp_path / "a")],
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.startswith(b'{"type":"header"') and exported.stdout.count(b"\n") > 30
    imported = subprocess.run(
        [*seqd, "import", "--state-dir", str(tmp_path / "b"), "-"],
        input=exported.stdout,
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert imported.returncode == 0, imported.stderr
    assert b"imported 30 runs" in imported.stderr
