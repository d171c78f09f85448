"""Turning a command's output, as it arrives in chunks, into log lines.

The spawner reads a command's stdout/stderr pipes and hands the daemon chunks of bytes;
``LineSplitter`` cuts them into lines with a bounded buffer, so neither a huge line nor
a huge output is ever held whole. Its own module because it is a pure, separately
tested algorithm (``tests/test_lines.py``), with no imports at all.
"""

from __future__ import annotations

MAX_LINE_BYTES = 64 * 1024


def _split_point(data: bytes | bytearray, limit: int) -> int:
    """Where to cut an over-long line at most ``limit`` bytes in without splitting a
    UTF-8 sequence (falls back to ``limit`` for text that is not UTF-8)."""
    cut = limit
    for _ in range(3):
        if cut <= 0 or (data[cut] & 0xC0) != 0x80:
            break
        cut -= 1
    if (data[cut] & 0xC0) == 0x80:
        return limit
    return cut if cut > 0 else limit


class LineSplitter:
    """Turns chunks of output into lines: split on ``\\n``, decoded as UTF-8
    (``errors="replace"``), a line longer than ``max_line`` bytes cut into pieces of at
    most that many bytes (never inside a UTF-8 sequence). Holds at most one partial
    line of ``max_line`` bytes between calls."""

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self.max_line = max_line
        self._partial = bytearray()

    def feed(self, data: bytes) -> list[str]:
        lines: list[str] = []
        self.split(data, lines)
        return lines

    def split(self, data: bytes, lines: list[str]) -> None:
        start = 0
        while True:
            nl = data.find(b"\n", start)
            if nl < 0:
                break
            if self._partial:
                self._partial += data[start:nl]
                self._emit_long(lines)
                lines.append(self._partial.decode("utf-8", "replace"))
                self._partial.clear()
            else:
                piece = data[start:nl]
                if len(piece) > self.max_line:
                    self._partial += piece
                    self._emit_long(lines)
                    lines.append(self._partial.decode("utf-8", "replace"))
                    self._partial.clear()
                else:
                    lines.append(piece.decode("utf-8", "replace"))
            start = nl + 1
        if start < len(data):
            self._partial += data[start:]
            self._emit_long(lines)

    def _emit_long(self, lines: list[str]) -> None:
        """Move full ``max_line`` pieces out of the pending partial line."""
        while len(self._partial) > self.max_line:
            cut = _split_point(self._partial, self.max_line)
            lines.append(self._partial[:cut].decode("utf-8", "replace"))
            del self._partial[:cut]

    def flush(self) -> list[str]:
        """The unterminated last line, if any (once the writer has exited)."""
        if not self._partial:
            return []
        text = self._partial.decode("utf-8", "replace")
        self._partial.clear()
        return [text]

    def clear(self) -> None:
        self._partial.clear()
