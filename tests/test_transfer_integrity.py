"""An export that does not add up is refused, and an import is never half a run.

Done for real: files cut at a line boundary, truncated mid-line and edited into other
valid JSON, given to ``seqd import`` (and ``--verify``) as processes; an import killed
with SIGKILL half-way and run again, on every backend (the code differs for each: a
SQLite savepoint, a PostgreSQL transaction, the file store's run file as the commit
point). ``import_run`` itself is in the storage conformance suite
(``seqd.testing.storage.imports``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_transfer import (  # the round-trip module's backends and helpers
    backend_name,  # noqa: F401 - a fixture
    backend_options,
    dump,
    lines_of,
    open_store,
)

from seqd.model.runs import NewLogLine, NewStep, Run
from seqd.plugins.storage import StorageBackend
from seqd.storage.transfer import TransferError, verify

RUNS = 1000
SEQD = [sys.executable, "-m", "seqd"]
ENV = {**os.environ, "SEQD_CONFIG": ""}


def _run(i: int) -> Run:
    return Run(
        id=f"{i + 1:024x}",
        task="t",
        status="succeeded",
        input={"i": i},
        created_at=f"2026-01-01T00:00:00.{i:06d}Z",
    )


async def _fill(store: StorageBackend, runs: int, lines: int) -> None:
    await store.create_runs([_run(i) for i in range(runs)])
    for i in range(runs):
        logs = [NewLogLine(ts="t", stream="stdout", text=f"run {i} line {n}") for n in range(lines)]
        await store.append_logs(_run(i).id, logs)
        await store.append_steps(_run(i).id, [NewStep(ts="t", kind="state", key=f"k{i}")])


def _export(tmp_path: Path, runs: int = RUNS, lines: int = 2) -> tuple[Path, bytes]:
    """A SQLite store of ``runs`` runs of ``lines`` log lines, exported to a file."""

    async def main() -> bytes:
        store = open_store("sqlite", tmp_path / "src", {})
        await store.open()
        try:
            await _fill(store, runs, lines)
            return await dump(store)  # what a whole import must give
        finally:
            await store.close()

    dumped = asyncio.run(main())
    file = tmp_path / "export.jsonl"
    done = subprocess.run(
        [*SEQD, "export", "--state-dir", str(tmp_path / "src"), "-o", str(file)],
        capture_output=True, text=True, env=ENV, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return file, dumped


def _import(
    state: Path, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SEQD, "import", "--state-dir", str(state), *args],
        capture_output=True,
        text=stdin is None,
        input=stdin,
        env=ENV,
        timeout=300,
    )  # type: ignore[call-overload,no-any-return]


def _runs_in(state: Path) -> int:
    async def main() -> int:
        store = open_store("sqlite", state, {})
        await store.open()
        try:
            return sum((await store.count_by_status()).values())
        finally:
            await store.close()

    return asyncio.run(main())


def test_a_complete_export_verifies_and_imports(tmp_path: Path) -> None:
    file, _ = _export(tmp_path)
    checked = _import(tmp_path / "dst", "--verify", str(file))
    assert checked.returncode == 0, checked.stderr
    assert "complete and unchanged" in checked.stderr and f"{RUNS} runs" in checked.stderr
    assert not (tmp_path / "dst").exists()  # --verify opens no store
    done = _import(tmp_path / "dst", str(file))
    assert done.returncode == 0, done.stderr
    assert f"imported {RUNS} runs, {2 * RUNS} log lines" in done.stderr
    assert _runs_in(tmp_path / "dst") == RUNS


def test_a_file_cut_at_a_line_boundary_is_refused_whole(tmp_path: Path) -> None:
    file, _ = _export(tmp_path)
    lines = file.read_bytes().splitlines(keepends=True)
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(b"".join(lines[: len(lines) // 2]))
    for args in (["--verify", str(cut)], [str(cut)]):
        done = _import(tmp_path / "dst", *args)
        assert done.returncode == 2, done.stderr
        assert "incomplete" in done.stderr and "cut short" in done.stderr
    assert _runs_in(tmp_path / "dst") == 0  # nothing of it went in
    # from stdin too: it is checked whole before anything is written
    piped = _import(tmp_path / "dst", "-", stdin=cut.read_bytes())
    assert piped.returncode == 2 and b"incomplete" in piped.stderr
    assert _runs_in(tmp_path / "dst") == 0


def test_a_file_cut_mid_line_or_missing_its_last_run_is_refused(tmp_path: Path) -> None:
    file, _ = _export(tmp_path)
    data = file.read_bytes()
    mid = tmp_path / "mid.jsonl"
    mid.write_bytes(data[: len(data) - 40])  # inside the trailer
    done = _import(tmp_path / "dst", str(mid))
    assert done.returncode == 2 and "line" in done.stderr, done.stderr
    lines = data.splitlines(keepends=True)
    no_trailer = tmp_path / "no-trailer.jsonl"
    no_trailer.write_bytes(b"".join(lines[:-1]))
    done = _import(tmp_path / "dst", str(no_trailer))
    assert done.returncode == 2 and "no trailer" in done.stderr, done.stderr
    assert _runs_in(tmp_path / "dst") == 0


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        (b'"text":"run 7 line 1"', b'"text":"run 7 line 2"', "checksum"),  # same length
        (b'"status":"succeeded"', b'"status":"failed"', "checksum"),
        (b'"key":"k3","name":""', b'"key":"k3","name":"renamed"', "checksum"),
    ],
)
def test_a_valid_json_change_is_refused(tmp_path: Path, old: bytes, new: bytes, says: str) -> None:
    file, _ = _export(tmp_path)
    data = file.read_bytes()
    assert old in data
    edited = tmp_path / "edited.jsonl"
    edited.write_bytes(data.replace(old, new, 1))
    for args in (["--verify", str(edited)], [str(edited)]):
        done = _import(tmp_path / "dst", *args)
        assert done.returncode == 2 and says in done.stderr, done.stderr
    assert _runs_in(tmp_path / "dst") == 0


def test_a_dropped_record_is_named_in_the_counts(tmp_path: Path) -> None:
    file, _ = _export(tmp_path, runs=20)
    lines = file.read_bytes().splitlines(keepends=True)
    logs = next(i for i, line in enumerate(lines) if line.startswith(b'{"type":"logs"'))
    dropped = tmp_path / "dropped.jsonl"
    dropped.write_bytes(b"".join(lines[:logs] + lines[logs + 1 :]))
    done = _import(tmp_path / "dst", "--verify", str(dropped))
    assert done.returncode == 2
    assert "log_lines: the trailer says 40, the file holds 38" in done.stderr, done.stderr


def test_an_export_without_a_trailer_needs_consent(tmp_path: Path) -> None:
    """Files from before the trailer (format version 4 and older) cannot be checked:
    refused by default, imported with ``--allow-unverified`` and a warning."""
    file, dumped = _export(tmp_path, runs=20)
    lines = file.read_bytes().splitlines(keepends=True)
    old = tmp_path / "v4.jsonl"
    old.write_bytes(b"".join([lines[0].replace(b'"version":5', b'"version":4'), *lines[1:-1]]))
    refused = _import(tmp_path / "dst", str(old))
    assert refused.returncode == 2 and "--allow-unverified" in refused.stderr
    assert _runs_in(tmp_path / "dst") == 0
    done = _import(tmp_path / "dst", "--allow-unverified", str(old))
    assert done.returncode == 0, done.stderr
    assert "warning" in done.stderr and "cannot be checked" in done.stderr
    assert "imported 20 runs" in done.stderr


def test_records_out_of_order_are_refused_even_without_a_trailer() -> None:
    """A run's log must follow its run record: otherwise it would be written apart."""
    header = b'{"type":"header","format":"seqd-export","version":4,"exported_at":"x","source":"y"}'
    run = b'{"type":"run","run":{"id":"%s","task":"t","status":"queued","created_at":"x"}}'
    logs = (
        b'{"type":"logs","run_id":"%s","lines":[{"seq":1,"ts":"t","stream":"stdout","text":"a"}]}'
    )
    text = b"\n".join([header, run % (b"a" * 24), run % (b"b" * 24), logs % (b"a" * 24)])

    async def main() -> None:
        with pytest.raises(TransferError, match="line 4: log lines of run a+ not right after"):
            await verify(lines_of(text), allow_unverified=True)

    asyncio.run(main())


@pytest.mark.xdist_group("postgres")
def test_an_import_killed_half_way_and_run_again_loses_no_log(
    backend_name: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    file, dumped = _export(tmp_path, runs=150, lines=2000)
    opts = backend_options(backend_name, tmp_path)
    flags = ["--storage", backend_name] + [f"--storage-opt={k}={v}" for k, v in opts.items()]
    # How long a whole import takes here, into a scratch store of the same kind.
    scratch = dict(opts, schema=f"{opts['schema']}_scratch") if "schema" in opts else opts
    scratch_flags = ["--storage", backend_name] + [
        f"--storage-opt={k}={v}" for k, v in scratch.items()
    ]
    began = time.monotonic()
    assert _import(tmp_path / "scratch", *scratch_flags, str(file)).returncode == 0
    whole = time.monotonic() - began
    if "schema" in opts:
        _drop(scratch["schema"])

    # Killed at a fraction of that; earlier if it was done before (the machine's load
    # varies), each time into a fresh store.
    for n, fraction in enumerate((0.6, 0.4, 0.25, 0.15, 0.1)):
        state = tmp_path / f"dst{n}"
        if "schema" in opts:
            _drop(opts["schema"])
        command = [*SEQD, "import", "--state-dir", str(state), *flags, str(file)]
        proc = subprocess.Popen(command, stderr=subprocess.DEVNULL, env=ENV)
        time.sleep(whole * fraction)
        proc.send_signal(signal.SIGKILL)
        if proc.wait() == -signal.SIGKILL:
            break
    assert proc.returncode == -signal.SIGKILL, "the import always ended before it was killed"

    async def check() -> tuple[int, bytes]:
        store = open_store(backend_name, state, opts)
        await store.open()
        try:
            runs = 0
            for i in range(150):
                if await store.get_run(_run(i).id) is None:
                    continue
                runs += 1  # every run that is there is there whole
                assert await store.last_log_seq(_run(i).id) == 2000
                assert await store.last_step_seq(_run(i).id) == 1
            return runs, b""
        finally:
            await store.close()

    partly, _ = asyncio.run(check())
    assert 0 <= partly < 150
    again = _import(state, *flags, str(file))
    assert again.returncode == 0, again.stderr
    assert f"imported {150 - partly} runs" in again.stderr
    assert f"({partly} runs already there, skipped)" in again.stderr

    async def final() -> bytes:
        store = open_store(backend_name, state, opts)
        await store.open()
        try:
            return await dump(store)
        finally:
            await store.close()

    assert asyncio.run(final()) == dumped


def _drop(schema: str) -> None:
    import psycopg
    from psycopg import sql
    from test_transfer import DSN

    with psycopg.connect(DSN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
