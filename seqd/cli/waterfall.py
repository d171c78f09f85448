"""``seqctl runs trace ID``: a run's trace as a waterfall, one line per span.

Each line is a span indented under its parent, its duration, and a bar placed on the
trace's time line; failed spans are marked ``✗`` (and red on a colour terminal), open
ones (still running, still waiting) end in ``░``. It fits the terminal's width, and
in a pipe ``$COLUMNS`` or 100 columns, without colours. ``--json`` prints the spans.
Standard library only, like the rest of seqctl.
"""

from __future__ import annotations

import math
import os
import time

from seqd.cli.output import ELLIPSIS, duration, terminal_width, truncate

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import Any

    from seqd.cli.output import Out
    from seqd.client import Client

PIPE_WIDTH = 100
MIN_BAR = 10
DURATION_WIDTH = 8
INDENT = 2
RED, RESET = "\x1b[31m", "\x1b[0m"


class Glyphs:
    def __init__(self, unicode: bool) -> None:
        self.done, self.failed_bar, self.open, self.instant = (
            ("█", "▓", "░", "│") if unicode else ("=", "x", "-", "|")
        )
        self.failed, self.ellipsis = ("✗", "…") if unicode else ("x", "~")


def trace(client: Client, args: argparse.Namespace, out: Out) -> int:
    result = client.trace(args.id)
    stream = out.stdout
    width = terminal_width(stream)
    color = width is not None and not os.environ.get("NO_COLOR")
    if width is None:
        columns = os.environ.get("COLUMNS", "")
        width = int(columns) if columns.isdigit() else PIPE_WIDTH
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
    glyphs = Glyphs(unicode=encoding in ("utf8", "utf_8"))
    out.result(result, lambda r: out.line(render(r, width, glyphs, color)))
    return 0


def _epoch(text: str | None) -> float | None:
    if not text:
        return None
    from datetime import datetime

    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def _rows(spans: Sequence[Any]) -> list[tuple[int, Any]]:
    """(depth, span) in tree order: each span under its parent, siblings by start."""
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[Any]] = {}
    for span in spans:
        parent = span.parent_span_id if span.parent_span_id in ids else None
        children.setdefault(parent, []).append(span)
    rows: list[tuple[int, Any]] = []
    todo = [(0, s) for s in reversed(sorted(children.get(None, []), key=_start))]
    while todo:
        depth, span = todo.pop()
        rows.append((depth, span))
        kids = children.get(span.span_id, [])
        todo.extend((depth + 1, k) for k in reversed(sorted(kids, key=_start)))
    return rows


def _start(span: Any) -> str:
    return str(span.start)


def render(result: Any, width: int, glyphs: Glyphs, color: bool = False) -> str:
    """The waterfall of a ``runs.trace`` result, ``width`` columns wide at most."""
    spans = list(result.spans)
    head = f"trace {result.trace_id}  root run {result.root_id}  {len(spans)} spans"
    if result.truncated:
        head += "  (truncated: the tree is larger than one answer)"
    if not spans:
        return head
    now = time.time()
    times = {}
    for span in spans:
        start = _epoch(span.start) or now
        end = _epoch(span.end)
        times[span.span_id] = (start, end)
    t0 = min(s for s, _ in times.values())
    t1 = max(e if e is not None else now for _, e in times.values())
    total = max(t1 - t0, 1e-6)
    rows = _rows(spans)
    labels = [" " * (INDENT * depth) + span.name for depth, span in rows]
    label_width = min(max(len(text) for text in labels), max(16, int(width * 0.4)))
    bar_width = max(MIN_BAR, width - (2 + label_width + 1 + DURATION_WIDTH + 1))
    lines = [truncate(head, width), ""]
    for (_, span), label in zip(rows, labels, strict=True):
        start, end = times[span.span_id]
        mark = glyphs.failed if span.failed else " "
        shown = duration((end if end is not None else now) - start)
        if end is None:
            shown += glyphs.ellipsis
        bar = _bar(start, end, t0, total, bar_width, span.failed, glyphs, now)
        if color and span.failed:
            bar = RED + bar + RESET
            mark = RED + mark + RESET
        text = truncate(label, label_width).ljust(label_width)
        lines.append(f"{mark} {text} {shown.rjust(DURATION_WIDTH)} {bar}".rstrip())
    failures = [(depth, span) for depth, span in rows if span.failed and span.error]
    if failures:
        lines.append("")
        for _, span in failures:
            text = f"{glyphs.failed} {span.name}: {span.error} (run {span.run_id})"
            lines.append(truncate(" ".join(text.split()), width))
    text = "\n".join(lines)
    return text if glyphs.ellipsis == ELLIPSIS else text.replace(ELLIPSIS, glyphs.ellipsis)


def _bar(
    start: float,
    end: float | None,
    t0: float,
    total: float,
    width: int,
    failed: bool,
    glyphs: Glyphs,
    now: float,
) -> str:
    """The span's cells on the time line: ``start``..``end`` of ``t0``..``t0+total``."""
    first = min(width - 1, int((start - t0) / total * width))
    stop = end if end is not None else now
    last = min(width, max(first + 1, math.ceil((stop - t0) / total * width)))
    if end is not None and end <= start:
        fill = glyphs.instant
    elif end is None:
        fill = glyphs.open
    else:
        fill = glyphs.failed_bar if failed else glyphs.done
    return " " * first + fill * (last - first)
