"""Finding what holds up the event loop (``slow_callback_ms``): asyncio's debug mode
reports every loop callback slower than the threshold, and this module says, for each,
whether it touched files on the loop — and names every place that does file I/O on
the loop at all while the daemon serves.

Why: one blocking ``open``/``listdir`` on the loop delays every client and every run,
and a slow callback alone does not say why it was slow (the machine may simply have
been busy). A file operation is seen through Python's audit events (``open``,
``os.listdir``, ``os.scandir``, ``os.rename``... raised by the standard library
itself), kept when it happens on the loop's thread, with the first caller outside
the standard library. Reads of ``/proc``, ``/sys`` and ``/dev`` (psutil's process
counters: kernel memory, not a disk), imports (the first use of a lazily imported
module) and debug mode's own source lookups are not file I/O in this sense.
``os.stat`` raises no audit event: a lone stat is not seen.

Off (0) by default: debug mode costs speed; it is a setting for finding a problem.
"""

from __future__ import annotations

import asyncio
import linecache
import logging
import os
import sys
import threading
import time
from collections import deque
from types import FrameType
from typing import Any, NamedTuple

logger = logging.getLogger(__name__)

FILE_EVENTS = frozenset(
    {
        "open",
        "os.listdir",
        "os.scandir",
        "os.mkdir",
        "os.remove",
        "os.rmdir",
        "os.rename",
        "os.truncate",
        "os.chmod",
        "os.chown",
        "os.utime",
        "os.link",
        "os.symlink",
        "shutil.rmtree",
        "shutil.copyfile",
        "shutil.move",
        "glob.glob",
    }
)
"""Audit events that are file system work (https://docs.python.org/3/library/audit_events.html)."""
PSEUDO_FS = ("/proc/", "/sys/", "/dev/")
SLOW_PREFIX = "Executing "
"""How asyncio (and uvloop) begin the slow-callback warning: ``Executing <handle> took
N seconds``."""
SLACK_S = 0.02
"""The warning comes a moment after its callback ended (its handle is described first):
file operations this much earlier count as the callback's too. One of a callback just
before may then be named as well; the per-site report tells them apart."""
_STDLIB = os.path.dirname(os.__file__) + os.sep
_LINECACHE = linecache.__file__


class FileOp(NamedTuple):
    at: float
    """``time.monotonic()`` when it began."""
    event: str
    target: str
    where: str
    """``file:line`` of the first caller outside the standard library."""

    def __str__(self) -> str:
        return f"{self.event} {self.target} at {self.where}"


class LoopWatch:
    """The recorder behind the audit hook; one per process (a hook cannot be removed)."""

    def __init__(self, thread: int) -> None:
        self.thread = thread
        self.recent: deque[FileOp] = deque(maxlen=512)
        self.armed = False
        """Whether file I/O on the loop is reported (from ready until shutdown)."""
        self.reported: set[str] = set()
        """Call sites already named, so a busy one is reported once."""

    def audit(self, event: str, args: tuple[Any, ...]) -> None:
        if event not in FILE_EVENTS or threading.get_ident() != self.thread:
            return
        target = args[0] if args else ""
        if isinstance(target, int):
            return  # open(fd): an existing descriptor (a pipe, a socket), not a path
        target = os.fsdecode(target) if isinstance(target, str | bytes) else str(target)
        if target.startswith(PSEUDO_FS):
            return
        where = _caller(sys._getframe(1))
        if where is None:
            return  # an import
        op = FileOp(time.monotonic(), event, target, where)
        self.recent.append(op)
        if self.armed and where not in self.reported:
            self.reported.add(where)
            logger.warning("file I/O on the event loop: %s", op)

    def during(self, start: float, end: float) -> list[FileOp]:
        return [op for op in self.recent if start <= op.at <= end]


def _caller(frame: FrameType | None) -> str | None:
    """``file:line`` of the first frame outside the standard library; None for an
    import or a source line looked up for a traceback (debug mode records where each
    task and callback was created)."""
    found: str | None = None
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith("<frozen importlib") or name == _LINECACHE:
            return None
        if found is None and not name.startswith(_STDLIB) and not name.startswith("<"):
            found = f"{name}:{frame.f_lineno}"
        frame = frame.f_back
    return found or "<stdlib>"


class _SlowCallbacks(logging.Filter):
    """Adds to asyncio's slow-callback warning the file I/O that callback did."""

    def __init__(self, watch: LoopWatch) -> None:
        super().__init__()
        self.watch = watch

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if (
            not isinstance(record.msg, str)
            or not record.msg.startswith(SLOW_PREFIX)
            or not isinstance(args, tuple)
            or not args
            or not isinstance(args[-1], float)
        ):
            return True
        now = time.monotonic()
        ops = self.watch.during(now - args[-1] - SLACK_S, now)
        if ops:
            shown = "; ".join(str(op) for op in ops[:5])
            more = f" (+{len(ops) - 5} more)" if len(ops) > 5 else ""
            note = f" — file I/O on the loop: {shown}{more}"
        else:
            note = " — no file I/O on the loop"
        record.msg = record.getMessage() + note
        record.args = None
        return True


_watch: LoopWatch | None = None


def enable(loop: asyncio.AbstractEventLoop, threshold_ms: float) -> LoopWatch:
    """Turn on debug mode with ``threshold_ms`` as the slow-callback threshold, and the
    file I/O recorder for the loop's (the calling) thread."""
    global _watch
    loop.set_debug(True)
    loop.slow_callback_duration = threshold_ms / 1000
    if _watch is None:
        _watch = LoopWatch(threading.get_ident())
        sys.addaudithook(_watch.audit)
        logging.getLogger("asyncio").addFilter(_SlowCallbacks(_watch))
    _watch.thread = threading.get_ident()
    _watch.recent.clear()
    _watch.reported.clear()
    logger.warning(
        "loop debug on: callbacks slower than %g ms and file I/O on the loop are logged "
        "(slow_callback_ms; it slows the daemon down)",
        threshold_ms,
    )
    return _watch


def disable() -> None:
    """Stop recording (the audit hook stays, as hooks do, but ignores every event)."""
    if _watch is not None:
        _watch.thread = -1
        _watch.armed = False
