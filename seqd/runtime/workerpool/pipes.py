"""Reading a worker's fd 1 and 2 on the event loop, as lines.

Python-level prints come over the control channel; these pipes carry what bypasses
``sys.stdout``: C extensions, subprocesses of the task, faulthandler's crash dumps.
``drain()`` reads what is already in the pipe synchronously, so output written before
the worker reported (or died) is attributed to the run it belongs to. Its own module:
non-blocking reads on the loop, apart from the worker's control channel.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import os
from collections.abc import Callable

logger = logging.getLogger(__name__)

CHUNK = 64 * 1024
MAX_LINE_CHARS = 64 * 1024
READS_PER_WAKEUP = 16
"""Bound the work per loop wake-up so a chatty worker cannot starve the loop."""


class PipeReader:
    """Non-blocking reader of one pipe that calls ``emit(stream, line)`` per line."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        fd: int,
        stream: str,
        emit: Callable[[str, str], None],
    ) -> None:
        self._loop = loop
        self._fd: int | None = fd
        self._stream = stream
        self._emit = emit
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._carry = ""
        os.set_blocking(fd, False)
        loop.add_reader(fd, self._on_readable)

    @property
    def closed(self) -> bool:
        return self._fd is None

    def _on_readable(self) -> None:
        self.drain(READS_PER_WAKEUP)

    def drain(self, max_reads: int = 64) -> None:
        """Read what is in the pipe now (up to ``max_reads`` chunks)."""
        for _ in range(max_reads):
            if self._fd is None:
                return
            try:
                data = os.read(self._fd, CHUNK)
            except BlockingIOError:
                return
            except OSError as exc:
                logger.debug("worker pipe %s: %s", self._stream, exc)
                self.close()
                return
            if not data:
                self._feed(self._decoder.decode(b"", final=True))
                self.close()
                return
            self._feed(self._decoder.decode(data))

    def _feed(self, text: str) -> None:
        if not text:
            return
        lines = (self._carry + text).split("\n")
        rest = lines.pop()
        while len(rest) > MAX_LINE_CHARS:
            lines.append(rest[:MAX_LINE_CHARS])
            rest = rest[MAX_LINE_CHARS:]
        self._carry = rest
        for line in lines:
            self._emit(self._stream, line)

    def flush_partial(self) -> None:
        """Emit a final line that had no newline (at the end of a run)."""
        if self._carry:
            line, self._carry = self._carry, ""
            self._emit(self._stream, line)

    def close(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        self._loop.remove_reader(fd)
        os.close(fd)
        self.flush_partial()
