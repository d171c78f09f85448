"""Replacement ``sys.stdout`` / ``sys.stderr`` for task code: line-buffered writers
whose lines travel as Log frames on the control channel, in order with ``ctx.log``.

Writes below Python (C extensions, subprocesses) still reach fd 1 and 2, which are
pipes the daemon reads separately; ``fileno()`` returns those so that code handing its
stdout to a subprocess keeps working. Its own module: a file-like object with the
``io`` protocol's many small duties.
"""

from __future__ import annotations

import codecs
import io
import threading
from collections.abc import Callable

MAX_LINE_CHARS = 64 * 1024
"""A longer line without a newline is sent in pieces of this size."""


class LogWriter(io.TextIOBase):
    """A text stream that sends each complete line with ``send(stream, line)``.

    ``flush()`` keeps a partial line (so ``print(x, end="", flush=True)`` pieces end up
    on one line); ``flush_partial()`` sends it at the end of a run.
    """

    def __init__(self, send: Callable[[str, str], None], stream: str, fd: int) -> None:
        super().__init__()
        self._send = send
        self._stream = stream
        self._fd = fd
        self._buf = ""
        self._lock = threading.RLock()
        self._bytes = _BytesAdapter(self)

    encoding = "utf-8"
    errors = "replace"
    line_buffering = True

    @property
    def buffer(self) -> _BytesAdapter:
        return self._bytes

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._fd

    def write(self, s: str) -> int:
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        with self._lock:
            text = self._buf + s
            lines = text.split("\n")
            rest = lines.pop()
            while len(rest) > MAX_LINE_CHARS:
                lines.append(rest[:MAX_LINE_CHARS])
                rest = rest[MAX_LINE_CHARS:]
            self._buf = rest
            self._send_lines(lines)
        return len(s)

    def _send_lines(self, lines: list[str]) -> None:
        for i, line in enumerate(lines):
            try:
                self._send(self._stream, line)
            except BaseException:
                # A cancel raised while sending: keep what was not sent yet.
                unsent = lines[i + 1 :]
                if unsent:
                    self._buf = "\n".join(unsent) + "\n" + self._buf
                raise

    def flush(self) -> None:
        """Line-buffered: complete lines are already sent; a partial one waits."""

    def flush_partial(self) -> None:
        with self._lock:
            if self._buf:
                line, self._buf = self._buf, ""
                self._send(self._stream, line)

    def close(self) -> None:
        """Task code may close ``sys.stdout``; the stream stays usable for the next."""


class _BytesAdapter(io.RawIOBase):
    """``sys.stdout.buffer`` for code that writes bytes: decoded as UTF-8."""

    def __init__(self, text: LogWriter) -> None:
        super().__init__()
        self._text = text
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._text.fileno()

    def write(self, b: object) -> int:
        data = bytes(memoryview(b))  # type: ignore[arg-type]
        self._text.write(self._decoder.decode(data))
        return len(data)

    def close(self) -> None:
        """Kept open, like the text stream."""
