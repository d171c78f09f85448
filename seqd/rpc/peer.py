"""Who is at the other end of a Unix socket, and whether it is still there.

Its own module because the connection (each peer's credentials and role), the server
(a live socket's listener) and the daemon's instance check all ask the kernel the same
questions.
"""

from __future__ import annotations

import asyncio
import errno
import select
import socket
import struct

_PEERCRED = struct.Struct("3i")
SO_PEERGROUPS = getattr(socket, "SO_PEERGROUPS", 59)
"""Linux ≥ 4.13: the supplementary groups of the peer, as they were when it connected."""
MAX_GROUPS = 65536


def peer_gone(transport: asyncio.BaseTransport | None) -> bool:
    """Whether the other end of a half-closed connection has closed it altogether (a
    Unix socket reports POLLHUP once both directions are shut)."""
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None:
        return True
    try:
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        return any(events & (select.POLLHUP | select.POLLERR) for _, events in poller.poll(0))
    except (OSError, ValueError):
        return True


def peer_credentials(sock: socket.socket | None) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end of a Unix socket."""
    if sock is None:
        return (0, -1, -1)
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
    except OSError:
        return (0, -1, -1)
    pid, uid, gid = _PEERCRED.unpack(raw)
    return pid, uid, gid


def peer_groups(sock: socket.socket | None) -> list[int]:
    """The supplementary groups of the process at the other end of a Unix socket, as
    the kernel recorded them at connect time (not the group database); empty where
    the kernel cannot tell."""
    if sock is None:
        return []
    size = 64 * 4
    while size <= MAX_GROUPS * 4:
        try:
            raw = sock.getsockopt(socket.SOL_SOCKET, SO_PEERGROUPS, size)
        except OSError as exc:
            if exc.errno == errno.ERANGE:
                size *= 4
                continue
            return []
        return list(struct.unpack(f"{len(raw) // 4}I", raw[: len(raw) // 4 * 4]))
    return []
