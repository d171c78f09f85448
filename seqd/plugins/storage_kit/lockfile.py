"""Lock files: "this is held by a live process", as the kernel keeps it.

Its own module because the SQLite and file stores hold their store this way, and the
daemon its socket: an exclusive ``flock`` on a file that the holder keeps open. The
kernel drops it when the holder's process ends, however it ends (SIGKILL, OOM, power
cut), so a lock is never stale and nothing ever has to guess whether its holder is
alive. The holder writes its pid into the file, for the message of whoever is refused.

The file itself is never removed (removing it would let a second process lock a new
file of the same name while the first still holds the old one), and never replaced by a
rename, for the same reason: the pid is written in place.
"""

from __future__ import annotations

import fcntl
import os
import time

from seqd.plugins.storage import StoreHeld

_HOLDER_READS = 5
"""Tries to read the holder's pid: it writes it just after taking the lock."""


def take(path: str) -> int | None:
    """Take the exclusive lock on ``path`` (created if missing; blocking call): the
    descriptor that holds it until closed, or None when another holder has it — another
    process, or another ``take`` of the same file in this one."""
    # A read-only descriptor holds it: no file stays open for writing between writes,
    # so the file system can still be remounted read-only under a running daemon.
    # O_NOFOLLOW: a symlink planted in the lock's place is refused, never followed.
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    try:
        _write_pid(path)
    except OSError:
        pass  # a read-only store can still be held; the refused one reads "pid unknown"
    return fd


def claim(path: str, location: str) -> int:
    """``take`` the lock file ``path`` of the store at ``location`` (its directory must
    exist; blocking call): the descriptor, or ``StoreHeld`` naming the holder."""
    fd = take(path)
    if fd is None:
        raise StoreHeld(location, holder(path))
    return fd


def _write_pid(path: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
    finally:
        os.close(fd)


def holder(path: str) -> int | None:
    """The pid the lock's holder wrote, or None if it cannot be read (blocking call)."""
    for attempt in range(_HOLDER_READS):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            return None
        try:
            text = os.read(fd, 32).decode("ascii", "replace").strip()
        finally:
            os.close(fd)
        if text.isdigit():
            return int(text)
        if attempt + 1 < _HOLDER_READS:
            time.sleep(0.01)  # taken a moment ago: its pid is on the way
    return None
