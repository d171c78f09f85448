"""Progress on a terminal: a spinner while ``seqctl run`` waits, a bar while
``seqctl run --each --wait`` does. Only ever on a terminal (stdout and stderr both
ttys, not ``TERM=dumb``) and never with ``--json``: pipes, files and scripts see none
of it. Plain ``\\r`` redraws of one line on stderr, no library.

The spinner turns from a thread (the main thread is blocked in a call to the daemon
meanwhile); the bar is drawn by its caller between two calls, at most ``FPS`` times a
second. Both clear their line when they stop, so what follows starts on a clean line.
"""

from __future__ import annotations

import os
import time

from seqd.cli.output import duration

TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading
    from typing import TextIO

    from seqd.cli.output import Out

FPS = 10
UNICODE_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
ASCII_FRAMES = "|/-\\"
BAR_WIDTH = 30
CLEAR = "\r\033[K"


def on_terminal(out: Out) -> bool:
    """Whether progress may be shown: a person is watching, not a script."""
    if out.json_mode or os.environ.get("TERM") == "dumb":
        return False
    try:
        return out.stdout.isatty() and out.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _frames(stream: TextIO) -> str:
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
    return UNICODE_FRAMES if encoding == "utf8" else ASCII_FRAMES


class Spinner:
    """``⠙ hello  running  12.3s`` on stderr, redrawn until :meth:`stop`."""

    def __init__(self, stream: TextIO, label: str) -> None:
        self._stream = stream
        self._label = label
        self._status = "submitted"
        self._started = time.monotonic()
        self._frames = _frames(stream)
        self._stopped: threading.Event | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Spinner:
        import threading

        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._turn, name="seqctl-spinner", daemon=True)
        self._thread.start()
        return self

    def status(self, status: str) -> None:
        self._status = status

    def line(self, frame: int) -> str:
        took = duration(time.monotonic() - self._started)
        return f"{self._frames[frame % len(self._frames)]} {self._label}  {self._status}  {took}"

    def _turn(self) -> None:
        assert self._stopped is not None
        frame = 0
        while not self._stopped.is_set():
            try:
                self._stream.write(CLEAR + self.line(frame))
                self._stream.flush()
            except (OSError, ValueError):
                return  # the terminal went away: nothing to show it on
            frame += 1
            self._stopped.wait(1 / FPS)

    def stop(self) -> None:
        if self._stopped is None or self._thread is None:
            return
        self._stopped.set()
        self._thread.join()
        self._stopped = None
        try:
            self._stream.write(CLEAR)
            self._stream.flush()
        except (OSError, ValueError):
            pass


class Bar:
    """``[#########---------]  4,213/10,000  12 failed  2,104/s`` on stderr."""

    def __init__(self, stream: TextIO, total: int, what: str = "done") -> None:
        self._stream = stream
        self._total = max(total, 1)
        self._what = what
        self._started = time.monotonic()
        self._drawn = 0.0

    def text(self, done: int, failed: int, now: float) -> str:
        filled = BAR_WIDTH * done // self._total
        took = now - self._started
        rate = f"  {done / took:,.0f}/s" if took > 0.5 and done else ""
        bad = f"  {failed:,} failed" if failed else ""
        return (
            f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}]  {done:,}/{self._total:,} "
            f"{self._what}{bad}{rate}  {duration(took)}"
        )

    def draw(self, done: int, failed: int = 0, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._drawn < 1 / FPS:
            return
        self._drawn = now
        try:
            self._stream.write(CLEAR + self.text(done, failed, now))
            self._stream.flush()
        except (OSError, ValueError):
            pass

    def clear(self) -> None:
        try:
            self._stream.write(CLEAR)
            self._stream.flush()
        except (OSError, ValueError):
            pass
