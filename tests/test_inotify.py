"""The ctypes inotify wrapper against the real kernel."""

from __future__ import annotations

import errno
import fcntl
import os
import select
from pathlib import Path

import pytest

from seqd.catalog import inotify
from seqd.catalog.inotify import Inotify, InotifyEvent


def wait_events(ino: Inotify, timeout: float = 10.0) -> list[InotifyEvent]:
    ready, _, _ = select.select([ino.fileno()], [], [], timeout)
    assert ready, "no inotify event arrived"
    return ino.read_events()


def test_create_modify_delete_in_directory(tmp_path: Path) -> None:
    with Inotify() as ino:
        wd = ino.add_watch(str(tmp_path), inotify.IN_CREATE | inotify.IN_MODIFY | inotify.IN_DELETE)
        assert wd > 0
        f = tmp_path / "a.txt"
        f.write_text("hello")
        events = wait_events(ino)
        events += ino.read_events()
        kinds = [(e.wd, e.name, e.mask & (inotify.IN_CREATE | inotify.IN_MODIFY)) for e in events]
        assert (wd, "a.txt", inotify.IN_CREATE) in kinds
        assert (wd, "a.txt", inotify.IN_MODIFY) in kinds
        f.unlink()
        events = wait_events(ino)
        assert any(e.mask & inotify.IN_DELETE and e.name == "a.txt" for e in events)


def test_subdirectory_events_carry_isdir(tmp_path: Path) -> None:
    with Inotify() as ino:
        ino.add_watch(str(tmp_path), inotify.IN_CREATE)
        (tmp_path / "sub").mkdir()
        (ev,) = wait_events(ino)
        assert ev.name == "sub"
        assert ev.mask & inotify.IN_ISDIR
        assert ev.mask & inotify.IN_CREATE


def test_moves_share_a_cookie(tmp_path: Path) -> None:
    (tmp_path / "old").write_text("x")
    with Inotify() as ino:
        ino.add_watch(str(tmp_path), inotify.IN_MOVED_FROM | inotify.IN_MOVED_TO)
        (tmp_path / "old").rename(tmp_path / "new")
        events = wait_events(ino)
        src = next(e for e in events if e.mask & inotify.IN_MOVED_FROM)
        dst = next(e for e in events if e.mask & inotify.IN_MOVED_TO)
        assert (src.name, dst.name) == ("old", "new")
        assert src.cookie == dst.cookie != 0


def test_file_watch_has_empty_name_and_self_events(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("")
    with Inotify() as ino:
        wd = ino.add_watch(str(f), inotify.IN_MODIFY | inotify.IN_CLOSE_WRITE)
        with open(f, "a") as fh:
            fh.write("more")
        events = wait_events(ino)
        events += ino.read_events()
        assert all(e.wd == wd and e.name == "" for e in events)
        assert any(e.mask & inotify.IN_CLOSE_WRITE for e in events)
        os.unlink(f)
        events = wait_events(ino)
        assert any(e.mask & inotify.IN_IGNORED for e in events)


def test_rm_watch_queues_ignored_and_tolerates_gone_watch(tmp_path: Path) -> None:
    with Inotify() as ino:
        wd = ino.add_watch(str(tmp_path), inotify.IN_CREATE)
        ino.rm_watch(wd)
        events = wait_events(ino)
        assert [(e.wd, bool(e.mask & inotify.IN_IGNORED)) for e in events] == [(wd, True)]
        ino.rm_watch(wd)  # already gone: no error
        (tmp_path / "later").write_text("x")
        assert ino.read_events() == []


def test_read_is_nonblocking_and_fd_is_cloexec(tmp_path: Path) -> None:
    with Inotify() as ino:
        assert ino.read_events() == []
        fd = ino.fileno()
        assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
        assert fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK


def test_errors_are_oserrors(tmp_path: Path) -> None:
    f = tmp_path / "plain"
    f.write_text("")
    with Inotify() as ino:
        with pytest.raises(OSError) as missing:
            ino.add_watch(str(tmp_path / "nope"), inotify.IN_CREATE)
        assert missing.value.errno == errno.ENOENT
        with pytest.raises(OSError) as notdir:
            ino.add_watch(str(f), inotify.IN_CREATE | inotify.IN_ONLYDIR)
        assert notdir.value.errno == errno.ENOTDIR


def test_close_is_idempotent_and_final(tmp_path: Path) -> None:
    ino = Inotify()
    fd = ino.fileno()
    ino.close()
    ino.close()
    assert ino.closed
    with pytest.raises(OSError):
        os.fstat(fd)
    with pytest.raises(ValueError):
        ino.add_watch(str(tmp_path), inotify.IN_CREATE)


def test_many_events_in_one_read(tmp_path: Path) -> None:
    with Inotify() as ino:
        ino.add_watch(str(tmp_path), inotify.IN_CREATE)
        names = {f"file-with-a-longish-name-{i:04d}" for i in range(2000)}
        for name in names:
            (tmp_path / name).write_text("")
        seen: set[str] = set()
        while seen != names:
            seen.update(e.name for e in wait_events(ino))
        assert seen == names
