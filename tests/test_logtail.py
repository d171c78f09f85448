"""Tailing growing files into lines, and waking tailers on change."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from seqd.logtail import ChangeWatcher, LineReader


def append(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def test_lines_across_reads_and_final_partial(tmp_path: Path) -> None:
    f = tmp_path / "out"
    r = LineReader(str(f))
    assert r.read_lines() == ([], False)  # not created yet
    append(f, b"one\ntw")
    assert r.read_lines() == (["one"], False)
    append(f, b"o\n\nthree")
    assert r.read_lines() == (["two", ""], False)
    assert r.flush() == ["three"]
    assert r.flush() == []
    r.close()


def test_invalid_utf8_is_replaced(tmp_path: Path) -> None:
    f = tmp_path / "out"
    append(f, b"ok \xff\xfe\n")
    assert LineReader(str(f)).read_lines()[0] == ["ok \ufffd\ufffd"]


def test_long_lines_split_on_character_boundaries(tmp_path: Path) -> None:
    f = tmp_path / "out"
    # 9 ASCII bytes then a 3-byte character straddling the 10-byte limit.
    append(f, b"abcdefghi" + "€".encode() + b"z" * 25 + b"\nend\n")
    r = LineReader(str(f), max_line=10, chunk=4)
    lines, more = r.read_lines()
    assert not more
    assert lines[0] == "abcdefghi"
    assert lines[1] == "€" + "z" * 7
    assert "".join(lines[:-1]) == "abcdefghi€" + "z" * 25
    assert all(len(x.encode()) <= 10 for x in lines)
    assert lines[-1] == "end"


def test_budget_bounds_each_call(tmp_path: Path) -> None:
    f = tmp_path / "out"
    append(f, (b"x" * 99 + b"\n") * 1000)  # 100 kB
    r = LineReader(str(f), chunk=4096)
    total = 0
    calls = 0
    while True:
        lines, more = r.read_lines(budget=10_000)
        total += len(lines)
        calls += 1
        assert len(lines) <= 101
        if not more:
            break
    assert total == 1000 and calls >= 10


def test_discard_truncates_and_appender_continues(tmp_path: Path) -> None:
    f = tmp_path / "out"
    writer = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        os.write(writer, b"a" * 100_000 + b"\npartial")
        r = LineReader(str(f))
        r.discard()
        assert f.stat().st_size == 0
        os.write(writer, b"fresh\n")
        assert f.stat().st_size == 6  # O_APPEND: no hole before the new data
        assert r.read_lines() == (["fresh"], False)
        assert r.flush() == []
    finally:
        os.close(writer)


def test_external_truncation_restarts_from_the_top(tmp_path: Path) -> None:
    f = tmp_path / "out"
    append(f, b"first line\n")
    r = LineReader(str(f))
    assert r.read_lines()[0] == ["first line"]
    os.truncate(f, 0)
    append(f, b"new\n")
    assert r.read_lines()[0] == ["new"]


def test_watcher_wakes_on_modify_and_not_before(tmp_path: Path) -> None:
    async def main() -> None:
        watcher = ChangeWatcher()
        changes = watcher.watch(str(tmp_path))
        assert watcher.uses_inotify and changes.wd is not None
        waiter = asyncio.ensure_future(changes.wait())
        await asyncio.sleep(0.1)
        assert not waiter.done()
        append(tmp_path / "f", b"x")
        await asyncio.wait_for(waiter, 20)
        changes.close()
        changes.close()
        watcher.close()

    asyncio.run(main())


def test_unwatchable_directory_falls_back_to_a_timer(tmp_path: Path) -> None:
    async def main() -> float:
        watcher = ChangeWatcher(fallback_interval=0.2)
        changes = watcher.watch(str(tmp_path / "missing"))
        assert changes.wd is None
        t0 = time.monotonic()
        await asyncio.wait_for(changes.wait(), 20)
        changes.close()
        watcher.close()
        return time.monotonic() - t0

    assert asyncio.run(main()) >= 0.15


def test_removed_directory_degrades_to_timer(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()

    async def main() -> None:
        watcher = ChangeWatcher(fallback_interval=0.1)
        changes = watcher.watch(str(d))
        d.rmdir()
        await asyncio.wait_for(changes.wait(), 20)  # IN_IGNORED wakes it
        await asyncio.sleep(0.05)
        assert changes.wd is None
        await asyncio.wait_for(changes.wait(), 20)  # then the timer does
        changes.close()
        watcher.close()

    asyncio.run(main())
