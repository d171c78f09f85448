"""One daemon per socket, made sure of before the daemon touches anything else.

Its own module because it comes first in the daemon's life and decides whether there is
one: a second ``seqd`` started on a socket that is already served must stop at once,
before it opens (let alone migrates or recovers) any store. The socket's lock file,
``<socket>.lock`` (``seqd.plugins.storage_kit.lockfile``: a ``flock`` the kernel drops
with the process), makes two daemons starting at the same moment agree on which one
runs; a socket that answers without it (a seqd of an older version, another program)
counts as taken too. A socket file nobody listens on is left for the server to replace.
"""

from __future__ import annotations

import os

from seqd.plugins.storage import holder_text
from seqd.plugins.storage_kit import lockfile
from seqd.rpc.server import socket_listener


class SocketTaken(Exception):
    """Another daemon serves (or is starting on) the socket; the message says which."""


def lock_path(socket_path: str) -> str:
    return socket_path + ".lock"


def claim_socket(path: str) -> int:
    """Hold ``path``'s lock file (blocking call): the descriptor that keeps it until
    closed. ``SocketTaken`` if another daemon holds it or already listens on ``path``."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    lock = lock_path(path)
    fd = lockfile.take(lock)
    if fd is None:
        pid = lockfile.holder(lock)
        raise SocketTaken(f"another seqd ({holder_text(pid)}) is already running on {path}")
    try:
        listener = socket_listener(path)
    except BaseException:
        os.close(fd)
        raise
    if listener is not None:
        os.close(fd)
        raise SocketTaken(f"another seqd ({holder_text(listener)}) is already listening on {path}")
    return fd
