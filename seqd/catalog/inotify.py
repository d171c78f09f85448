"""A small ctypes wrapper around Linux inotify.

The task-folder and tool-folder watchers (``seqd.catalog.watch``) reload changed
definitions with it. ctypes on libc keeps it dependency-free; the descriptor is
nonblocking and close-on-exec so it can sit in an event loop (``loop.add_reader``) and
never leaks into spawned commands. Where inotify is missing (not Linux, a seccomp
filter, ``max_user_instances`` reached) the constructor raises ``OSError`` and callers
fall back to a slow timer.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import struct
from typing import NamedTuple

logger = logging.getLogger(__name__)

# Events (from <sys/inotify.h>).
IN_ACCESS = 0x00000001
IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_CLOSE_NOWRITE = 0x00000010
IN_OPEN = 0x00000020
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
# Reported by the kernel.
IN_UNMOUNT = 0x00002000
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
# Flags for add_watch.
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_EXCL_UNLINK = 0x04000000
IN_MASK_ADD = 0x20000000
IN_ISDIR = 0x40000000
IN_ONESHOT = 0x80000000

IN_CLOSE = IN_CLOSE_WRITE | IN_CLOSE_NOWRITE
IN_MOVE = IN_MOVED_FROM | IN_MOVED_TO
IN_ALL_EVENTS = 0x00000FFF

_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC

_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len
_READ_SIZE = 64 * 1024  # room for many events; one event is at most 16 + NAME_MAX + 1


class InotifyEvent(NamedTuple):
    wd: int
    mask: int
    cookie: int
    name: str
    """File name inside a watched directory; empty for the watched path itself."""


_libc: ctypes.CDLL | None = None


def _get_libc() -> ctypes.CDLL:
    """Load libc on first use (no import-time side effects) and declare signatures."""
    global _libc
    if _libc is None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.inotify_init1.argtypes = [ctypes.c_int]
            libc.inotify_init1.restype = ctypes.c_int
            libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
            libc.inotify_add_watch.restype = ctypes.c_int
            libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
            libc.inotify_rm_watch.restype = ctypes.c_int
        except (OSError, AttributeError) as exc:
            raise OSError(errno.ENOSYS, f"inotify is not available: {exc}") from None
        _libc = libc
    return _libc


def _oserror(what: str, path: str | None = None) -> OSError:
    err = ctypes.get_errno()
    return OSError(err, f"{what}: {os.strerror(err)}", path)


class Inotify:
    """One inotify instance. Events are read on one thread (the loop's); ``add_watch``
    is one system call and may run on another thread (a directory walk), as long as
    the instance is not closed meanwhile."""

    def __init__(self) -> None:
        libc = _get_libc()
        fd: int = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if fd < 0:
            raise _oserror("inotify_init1")
        self._libc = libc
        self._fd = fd

    def fileno(self) -> int:
        if self._fd < 0:
            raise ValueError("inotify instance is closed")
        return self._fd

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def add_watch(self, path: str, mask: int) -> int:
        """Watch ``path`` for the events in ``mask``; returns the watch descriptor.
        Watching the same inode again returns the same descriptor (with the new mask
        unless ``IN_MASK_ADD``)."""
        wd = self._libc.inotify_add_watch(self.fileno(), os.fsencode(path), mask & 0xFFFFFFFF)
        if wd < 0:
            raise _oserror("inotify_add_watch", path)
        return int(wd)

    def rm_watch(self, wd: int) -> None:
        """Stop a watch; the kernel then queues an ``IN_IGNORED`` event for it. A watch
        that is already gone (its file was deleted) is not an error."""
        if self._libc.inotify_rm_watch(self.fileno(), wd) < 0:
            err = ctypes.get_errno()
            if err != errno.EINVAL:
                raise OSError(err, f"inotify_rm_watch: {os.strerror(err)}")

    def read_events(self) -> list[InotifyEvent]:
        """Every event queued right now; ``[]`` when there is none (never blocks)."""
        events: list[InotifyEvent] = []
        while True:
            try:
                data = os.read(self.fileno(), _READ_SIZE)
            except BlockingIOError:
                return events
            except InterruptedError:
                continue
            if not data:
                return events
            offset = 0
            while offset + _HEADER.size <= len(data):
                wd, mask, cookie, length = _HEADER.unpack_from(data, offset)
                offset += _HEADER.size
                raw = data[offset : offset + length].split(b"\0", 1)[0]
                offset += length
                events.append(InotifyEvent(wd, mask, cookie, os.fsdecode(raw)))
            if len(data) < _READ_SIZE - 4096:
                return events

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def __enter__(self) -> Inotify:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_fd", -1) >= 0:
            self.close()
