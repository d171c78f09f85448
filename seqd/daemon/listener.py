"""The daemon's socket, from before the store is touched to after the last client: its
folder checked, held against a second daemon (``instance``), listened on, and given
back at the end — or the one systemd passed, used as it is.

Its own module because the socket's life spans the whole daemon's and has its own
failure modes (another user's folder, another daemon, a stale file), each with a clear
exit status, apart from the assembly of the rest (``app``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket

from seqd.config import paths
from seqd.config.settings import Config
from seqd.daemon import systemd
from seqd.daemon.errors import StartupError
from seqd.daemon.instance import SocketTaken, claim_socket
from seqd.rpc.server import Server

logger = logging.getLogger(__name__)


class Listener:
    """The socket at ``path`` (the configured one; the inherited one's name once known)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.path = config.resolved_socket()
        self._inherited: socket.socket | None = None
        self._lock: int | None = None
        self._bound: str | None = None

    async def claim(self) -> None:
        """Make sure the socket's folder is ours alone and no other daemon serves the
        socket, and hold it (``instance``). A socket passed by systemd is ours by
        construction."""
        try:
            self._inherited = systemd.activation_socket()
        except systemd.UnsupportedSocket as exc:
            raise StartupError(str(exc)) from exc
        if self._inherited is not None:
            return
        if self.config.socket is None and self.path == paths.user_socket():
            try:  # the folders may have been made by another user, to catch our clients
                self.path = await asyncio.to_thread(paths.prepare_user_socket)
            except (paths.UnsafeDirectory, OSError) as exc:
                raise StartupError(
                    f"refusing the socket folder: {exc} (or give --socket PATH)"
                ) from exc
        try:
            self._lock = await asyncio.to_thread(claim_socket, self.path)
        except SocketTaken as exc:
            raise StartupError(str(exc), exit_code=2) from None
        except OSError as exc:
            raise StartupError(f"cannot use the socket {self.path}: {exc}") from exc

    async def listen(self, server: Server) -> None:
        inherited, self._inherited = self._inherited, None
        if inherited is not None:
            await server.listen_socket(inherited)
            name = inherited.getsockname()
            self.path = name if isinstance(name, str) and name else self.path
            logger.info("socket:      %s (from systemd socket activation)", self.path)
            self._inherited = inherited
            return
        access = self.config.access
        try:
            await server.listen_path(self.path, access.socket_mode, access.socket_group)
        except (OSError, RuntimeError, KeyError) as exc:
            raise StartupError(f"cannot listen on {self.path}: {exc}") from exc
        self._bound = self.path
        logger.info("socket:      %s", self.path)

    async def release(self) -> None:
        """The socket file goes (not one systemd owns), then the lock: last, so the next
        daemon may start only now."""
        if self._bound is not None:
            await asyncio.to_thread(_remove, self._bound)
            self._bound = None
        if self._inherited is not None:
            self._inherited.close()
            self._inherited = None
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
