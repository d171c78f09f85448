"""Who is at the other end of the socket: the check both clients make right after
connecting, before a single byte is sent.

A socket path is only a name; whoever could create it (a folder another user made in
``/tmp``, say) could listen there and read the runs' inputs a client sends. So the
client asks the kernel (``SO_PEERCRED``) which uid listens, and talks only to itself,
root, a uid it is told to trust (``trusted_uids``, ``$SEQD_TRUSTED_UIDS``), or the owner
of the socket's folder when no one else could have put a socket there (the folder is
not writable by others, and every folder above it belongs to root and is writable by
root alone — ``/run/seqd`` of the system service is such a folder).

Like the rest of the client's start-up path, this module imports only ``_socket``-level
pieces of the standard library (``os``, ``sys``), not ``socket`` or ``struct``.
"""

from __future__ import annotations

import os
import sys

from seqd.client._codec import ClientError, DaemonUnreachable

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket
    from collections.abc import Iterable

SOL_SOCKET = 1
SO_PEERCRED = 17
"""Linux's values; ``_socket`` has them, but reading them from it costs as much."""
TRUST_HINT = "if it is the daemon you mean, add its uid to $SEQD_TRUSTED_UIDS"
_WRITABLE_BY_OTHERS = 0o022


class UntrustedDaemon(DaemonUnreachable):
    """The process listening on the socket is not one this client may talk to."""

    def __init__(self, socket_path: str, uid: int, pid: int) -> None:
        super().__init__(
            socket_path,
            f"the process listening there (pid {pid}) runs as uid {uid}: not you, not root "
            "and not a trusted uid, so nothing was sent to it",
            TRUST_HINT,
        )
        self.uid = uid
        self.pid = pid


def trusted_from_env(value: str | None) -> set[int]:
    """The uids of ``$SEQD_TRUSTED_UIDS`` (``990,991`` or ``990:991``); a word that is
    not a uid is a :class:`ClientError` naming it."""
    uids: set[int] = set()
    for word in (value or "").replace(":", ",").split(","):
        word = word.strip()
        if not word:
            continue
        if not word.isdigit():
            raise ClientError(f"$SEQD_TRUSTED_UIDS: {word!r} is not a uid")
        uids.add(int(word))
    return uids


def peer_of(sock: _socket.socket) -> tuple[int, int]:
    """(pid, uid) of the process at the other end of a connected Unix socket."""
    raw = sock.getsockopt(SOL_SOCKET, SO_PEERCRED, 12)
    order = sys.byteorder
    return int.from_bytes(raw[0:4], order, signed=True), int.from_bytes(raw[4:8], order)


def check_peer(sock: _socket.socket, socket_path: str, trusted: Iterable[int] = ()) -> None:
    """Raise :class:`UntrustedDaemon` unless the peer of ``sock`` may be talked to."""
    pid, uid = peer_of(sock)
    if uid == os.getuid() or uid == os.geteuid() or uid == 0 or uid in trusted:
        return
    if uid in trusted_from_env(os.environ.get("SEQD_TRUSTED_UIDS")):
        return
    if _folder_owner(socket_path) == uid:
        return
    raise UntrustedDaemon(socket_path, uid, pid)


def _folder_owner(socket_path: str) -> int | None:
    """The owner of the socket's folder if only it (and root) could have put a socket
    there; else None."""
    try:
        folder = os.path.realpath(os.path.dirname(os.path.abspath(socket_path)))
        st = os.lstat(folder)
        if st.st_mode & _WRITABLE_BY_OTHERS:
            return None
        above = os.path.dirname(folder)
        while True:
            parent = os.lstat(above)
            if parent.st_uid != 0 or parent.st_mode & _WRITABLE_BY_OTHERS:
                return None
            if above == os.path.dirname(above):
                return st.st_uid
            above = os.path.dirname(above)
    except OSError:
        return None
