"""Tail growing output files into log lines without holding them in memory.

A command writes its stdout/stderr straight into files (``O_APPEND``); the daemon reads
them in bounded chunks and splits them into lines. ``LineReader`` is the synchronous
reader (run it in a thread: it does file I/O); ``ChangeWatcher`` wakes tailers when a
directory's files change — one shared inotify instance for all of them (the per-user
instance limit is small), or a slow timer where inotify is unavailable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os

from seqd.inotify import IN_IGNORED, IN_MODIFY, IN_Q_OVERFLOW, Inotify

logger = logging.getLogger(__name__)

MAX_LINE_BYTES = 64 * 1024
CHUNK_BYTES = 64 * 1024


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


class LineReader:
    """Reads a file from where it stopped last time and returns complete lines.

    Lines are split on ``\\n`` and decoded as UTF-8 (``errors="replace"``); a line longer
    than ``max_line`` is cut into pieces of at most that many bytes. Memory use is
    bounded by ``budget`` + ``max_line`` per call, whatever the file's size.
    """

    def __init__(
        self, path: str, *, max_line: int = MAX_LINE_BYTES, chunk: int = CHUNK_BYTES
    ) -> None:
        self.path = path
        self.max_line = max_line
        self.chunk = chunk
        self._fd = -1
        self._offset = 0
        self._splitter = LineSplitter(max_line)

    def _open(self) -> bool:
        if self._fd < 0:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
            except FileNotFoundError:
                return False
        return True

    def unread(self) -> int:
        """Bytes written to the file and not read yet (one fstat; 0 if it is absent)."""
        if not self._open():
            return 0
        return max(0, os.fstat(self._fd).st_size - self._offset)

    def read_lines(self, budget: int = 1024 * 1024) -> tuple[list[str], bool]:
        """Read up to ``budget`` bytes; returns the complete lines and whether more
        data may be waiting (the budget ran out)."""
        if not self._open():
            return [], False
        if os.fstat(self._fd).st_size < self._offset:  # truncated by someone: restart
            self._offset = 0
        lines: list[str] = []
        used = 0
        while used < budget:
            data = os.pread(self._fd, min(self.chunk, budget - used), self._offset)
            if not data:
                return lines, False
            self._offset += len(data)
            used += len(data)
            self._split(data, lines)
        return lines, True

    def _split(self, data: bytes, lines: list[str]) -> None:
        self._splitter.split(data, lines)

    def flush(self) -> list[str]:
        """The unterminated last line, if any (call once the writer has exited)."""
        return self._splitter.flush()

    def discard(self) -> None:
        """Throw away everything written so far and shrink the file to zero. A writer
        using ``O_APPEND`` carries on at the new end, so the file stays small."""
        self._splitter.clear()
        if not self._open():
            return
        os.ftruncate(self._fd, 0)
        self._offset = 0

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)


class Changes:
    """Wake-ups for one watched directory."""

    def __init__(self, watcher: ChangeWatcher, wd: int | None) -> None:
        self._watcher = watcher
        self.wd = wd
        self.event = asyncio.Event()

    async def wait(self) -> None:
        """Until something in the directory changed (or, without inotify, until the
        fallback interval passed)."""
        if self.wd is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.event.wait(), self._watcher.fallback_interval)
        else:
            await self.event.wait()
        self.event.clear()

    def close(self) -> None:
        self._watcher._unwatch(self)


class ChangeWatcher:
    """Dispatches ``IN_MODIFY`` events of watched directories to their ``Changes``."""

    def __init__(self, fallback_interval: float = 0.5) -> None:
        self.fallback_interval = fallback_interval
        self._inotify: Inotify | None = None
        self._failed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._by_wd: dict[int, Changes] = {}

    @property
    def uses_inotify(self) -> bool:
        return self._inotify is not None

    def _ensure(self) -> Inotify | None:
        if self._inotify is None and not self._failed:
            try:
                self._inotify = Inotify()
            except OSError as exc:
                self._failed = True
                logger.warning(
                    "inotify unavailable (%s); output is read every %.1fs",
                    exc,
                    self.fallback_interval,
                )
                return None
            self._loop = asyncio.get_running_loop()
            self._loop.add_reader(self._inotify.fileno(), self._on_readable)
        return self._inotify

    def watch(self, directory: str) -> Changes:
        """Start watching the files in ``directory``; call from the loop."""
        ino = self._ensure()
        wd: int | None = None
        if ino is not None:
            try:
                wd = ino.add_watch(directory, IN_MODIFY)
            except OSError as exc:
                logger.warning("cannot watch %s (%s); falling back to a timer", directory, exc)
        changes = Changes(self, wd)
        if wd is not None:
            self._by_wd[wd] = changes
        return changes

    def _unwatch(self, changes: Changes) -> None:
        wd, changes.wd = changes.wd, None
        if wd is None or self._by_wd.get(wd) is not changes:
            return
        del self._by_wd[wd]
        # No inotify_rm_watch here: it waits for an RCU grace period (milliseconds) on
        # the event loop. The watched directory is a run's work dir, removed right
        # after the run; the kernel drops the watch then (IN_IGNORED), off the loop.

    def _on_readable(self) -> None:
        assert self._inotify is not None
        try:
            events = self._inotify.read_events()
        except OSError:
            logger.exception("reading inotify events failed")
            return
        for ev in events:
            if ev.mask & IN_Q_OVERFLOW:
                for every in self._by_wd.values():
                    every.event.set()
                continue
            changes = self._by_wd.get(ev.wd)
            if changes is None:
                continue
            changes.event.set()
            if ev.mask & IN_IGNORED:  # directory removed: the watch is gone
                del self._by_wd[ev.wd]
                changes.wd = None

    def close(self) -> None:
        if self._inotify is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._inotify.fileno())
            self._inotify.close()
            self._inotify = None
        self._by_wd.clear()
