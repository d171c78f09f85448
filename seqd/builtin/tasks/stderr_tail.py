"""The last lines a failed command wrote to stderr, kept for its error.

A shell run that fails says why in its error (``details.stderr_tail``), so that
``seqctl run`` and ``runs show`` can print the cause without a trip to the log. Its own
module because it sits between the command and the run's log, seeing every line as it
passes (also past the log's cap), and keeps a bounded copy: at most ``LINES`` lines of
at most ``LINE_CHARS`` characters each.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from seqd.model.runs import LogStream
from seqd.runtime.spawner.command import OutputSink

LINES = 10
LINE_CHARS = 500
"""A longer line is cut, with '…' at the end."""


class StderrTail:
    """An ``OutputSink`` in front of another: passes every line on, keeps stderr's last."""

    def __init__(self, sink: OutputSink) -> None:
        self._sink = sink
        self._lines: deque[str] = deque(maxlen=LINES)

    def log(self, stream: LogStream, text: str) -> None:
        if stream == "stderr":
            line = text.rstrip("\n")
            self._lines.append(line if len(line) <= LINE_CHARS else line[: LINE_CHARS - 1] + "…")
        self._sink.log(stream, text)

    @property
    def log_full(self) -> bool:
        return self._sink.log_full

    async def wait_logged(self, backlog_bytes: int = 1 << 20) -> None:
        await self._sink.wait_logged(backlog_bytes)

    def details(self) -> dict[str, Any]:
        """``{"stderr_tail": [...]}`` for a failed run's error; empty when stderr was."""
        return {"stderr_tail": list(self._lines)} if self._lines else {}
