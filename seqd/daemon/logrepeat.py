"""Repeated warnings, said a few times and then counted: a flood of requests that each
log the same warning (a storage outage, a misbehaving client) must not flood the log.

Records of WARNING and above are grouped by where they come from — logger, level and
message *template* (``"run %s: cannot start, storage unavailable: %s"``), so the same
warning about different runs is one group. In each window the first ``burst`` of a
group pass; the rest are counted, and when the window ends one line says how many
there were: ``... (repeated 2,341 times in 10 s)``. Its own module because it is a
filter on the daemon's log handler, apart from what logs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_S = 10.0
BURST = 5
MAX_GROUPS = 4096
"""Groups followed at once; records of further groups pass uncounted (templates come
from the code, so this is never reached but by a bug)."""


@dataclass
class _Group:
    start: float
    passed: int = 1
    suppressed: int = 0
    last: logging.LogRecord | None = None


class RepeatFilter(logging.Filter):
    """Attach to a handler; ``flush`` (called now and then, and at the end) writes the
    counts of the windows that are over, through ``emit`` (the handler's ``handle``)."""

    def __init__(
        self,
        emit: Callable[[logging.LogRecord], object],
        window_s: float = WINDOW_S,
        burst: int = BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._emit = emit
        self.window_s = window_s
        self.burst = burst
        self._clock = clock
        self._groups: dict[tuple[str, int, str], _Group] = {}
        self._next_flush = 0.0
        self._lock = threading.Lock()
        """Storage threads log too."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or getattr(record, "seqd_repeats", False):
            return True
        now = self._clock()
        if now >= self._next_flush:
            self.flush(now)
        key = (record.name, record.levelno, str(record.msg))
        with self._lock:
            group = self._groups.get(key)
            if group is None:
                if len(self._groups) < MAX_GROUPS:
                    self._groups[key] = _Group(start=now)
                return True
            if group.passed < self.burst:
                group.passed += 1
                return True
            group.suppressed += 1
            group.last = record
            return False

    def flush(self, now: float | None = None, *, everything: bool = False) -> None:
        """Write the count of every group whose window is over (all, ``everything``),
        and forget those groups."""
        now = self._clock() if now is None else now
        summaries = []
        with self._lock:
            self._next_flush = now + min(1.0, self.window_s)
            for key, group in list(self._groups.items()):
                if not everything and now - group.start < self.window_s:
                    continue
                del self._groups[key]
                if group.suppressed and group.last is not None:
                    summaries.append(_summary(group.last, group.suppressed, now - group.start))
        for summary in summaries:  # outside the lock: the handler calls filter() again
            self._emit(summary)

    def pending(self) -> int:
        """Records counted but not yet reported."""
        with self._lock:
            return sum(group.suppressed for group in self._groups.values())


def _summary(last: logging.LogRecord, count: int, seconds: float) -> logging.LogRecord:
    """The line that stands for ``count`` suppressed copies of ``last``'s warning
    (its message, not its traceback)."""
    record = logging.makeLogRecord(
        {
            "name": last.name,
            "levelno": last.levelno,
            "levelname": last.levelname,
            "pathname": last.pathname,
            "lineno": last.lineno,
            "msg": "%s (repeated %s times in %s s)",
            "args": (last.getMessage(), f"{count:,}", f"{max(1, round(seconds)):d}"),
            "seqd_repeats": True,
        }
    )
    return record
