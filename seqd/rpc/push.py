"""Pushing to a connection: what a handler may do besides answering (notifications).

Its own module because this is the one ability the wire gives the layers above it
(``seqd.api`` keeps subscriptions, ``seqd.events`` fills them) while staying ignorant
of them. A ``Push`` belongs to one connection (``Caller.push``): it writes lines, says
whether the client keeps up (the transport's flow control: ``paused`` between its
``pause_writing`` and ``resume_writing``), wakes waiters when it does again, and calls
back when the connection is gone. A holder (``hold``) keeps a half-closed connection
open while it still has something to send.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import msgspec

logger = logging.getLogger(__name__)

_encode = msgspec.json.encode


def event_line(subscription: str, cursor: str, body: bytes) -> bytes:
    """The ``event`` notification for an event encoded as ``body`` (a JSON object,
    ``{"topic": ...}``), without its line's ``\\n``: ``subscription`` and ``cursor``
    go first."""
    head = b'{"jsonrpc":"2.0","method":"event","params":{"subscription":'
    head += _encode(subscription) + b',"cursor":' + _encode(cursor)
    if body != b"{}":
        head += b"," + body[1:-1]
    return head + b"}}"


class Push:
    """One connection's way out for messages nobody asked for."""

    def __init__(self, write: Callable[[bytes], None], idle: Callable[[], None]) -> None:
        self._write = write
        self._idle = idle
        self.paused = False
        """The client reads slower than we write (the transport's buffer is full)."""
        self.closed = False
        self._resumed: asyncio.Event | None = None
        self._on_resume: list[Callable[[], None]] = []
        self._on_close: list[Callable[[], None]] = []
        self._holders = 0

    def send(self, line: bytes) -> None:
        """Write one message (a line without its ``\\n``); buffered by the transport."""
        if not self.closed:
            self._write(line)

    async def writable(self) -> None:
        """Return once writing may go on (or the connection is gone)."""
        while self.paused and not self.closed:
            if self._resumed is None:
                self._resumed = asyncio.Event()
            await self._resumed.wait()

    def on_resume(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` whenever writing may go on again; returns its remover."""
        self._on_resume.append(callback)
        return lambda: _discard(self._on_resume, callback)

    def on_close(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` once the connection is gone; returns its remover."""
        if self.closed:
            callback()
            return lambda: None
        self._on_close.append(callback)
        return lambda: _discard(self._on_close, callback)

    @property
    def busy(self) -> bool:
        """Something still sends here (a half-closed connection stays open for it)."""
        return self._holders > 0 and not self.closed

    def hold(self) -> Callable[[], None]:
        """Keep the connection open for what follows; call the returned function once
        done (it closes a half-closed connection that has nothing else to do)."""
        self._holders += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._holders -= 1
                if self._holders == 0:
                    self._idle()

        return release

    # -- what the connection tells it ------------------------------------------------

    def pause(self) -> None:
        self.paused = True
        if self._resumed is not None:
            self._resumed.clear()

    def resume(self) -> None:
        self.paused = False
        if self._resumed is not None:
            self._resumed.set()
        for callback in list(self._on_resume):
            _call(callback)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._resumed is not None:
            self._resumed.set()
        callbacks, self._on_close = self._on_close, []
        self._on_resume.clear()
        for callback in callbacks:
            _call(callback)


def _discard(callbacks: list[Callable[[], None]], callback: Callable[[], None]) -> None:
    if callback in callbacks:
        callbacks.remove(callback)


def _call(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception:  # one broken listener must not keep the others from hearing
        logger.exception("push callback %r failed", callback)
