"""Serving the dashboard in the daemon's own event loop with uvicorn.

The listening socket is bound here, before uvicorn starts, so an address in use is an
error of ``seqd_startup`` (logged with the plugin's name) rather than uvicorn's exit;
and uvicorn's own signal handling is switched off: SIGTERM and SIGINT belong to the
daemon, which stops the dashboard from ``seqd_shutdown``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Generator

import uvicorn
from starlette.applications import Starlette

logger = logging.getLogger(__name__)

GRACE_S = 2.0
"""How long open pages (live streams) get to finish when the daemon stops."""


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the daemon's signals stay the daemon's


class Serving:
    """A running dashboard: ``start`` binds and serves, ``stop`` ends it."""

    def __init__(self, app: Starlette, host: str, port: int) -> None:
        self.host, self.port = host, port
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", access_log=False,
            timeout_graceful_shutdown=int(GRACE_S), proxy_headers=False,
        )  # fmt: skip
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        sock.listen(128)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started and not self._task.done():
            await asyncio.sleep(0.01)
        if self._task.done():
            self._task.result()  # raises why it could not start

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        try:
            await asyncio.wait_for(self._task, GRACE_S + 3)
        except TimeoutError:
            logger.warning("the web dashboard did not stop in time")
