"""How seqctl prints: aligned tables and key/value blocks, short local times, human
durations and sizes, pretty JSON — with the standard library only (not msgspec;
``json`` only where ``seqd.rpc.strictjson`` will not do, since it imports ``re``;
``typing`` only for the type checker), so start-up stays fast. Tables are cut to the
terminal's width only when stdout is a terminal, so pipes and scripts always get
whole cells.
"""

from __future__ import annotations

import os
import sys

from seqd.rpc import strictjson

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from datetime import datetime
    from typing import Any, TextIO, TypeVar

    T = TypeVar("T")

ELLIPSIS = "…"
GAP = 2
MIN_COLUMN = 6


# -- plain formatting ---------------------------------------------------------------------


def cell(value: object) -> str:
    """One table cell: None is empty, and line breaks or tabs never break the layout."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if "\n" in text or "\t" in text or "\r" in text:
        text = " ".join(text.split())
    return text


def truncate(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + ELLIPSIS if width > 0 else ""


def table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], width: int | None = None
) -> str:
    """Columns padded to their widest cell; with ``width``, the widest columns are cut
    (with '…') until a line fits, but never below a few characters."""
    cells = [[cell(v) for v in row] for row in rows]
    heads = [h.upper() for h in headers]
    widths = [len(h) for h in heads]
    for row in cells:
        for i, text in enumerate(row):
            widths[i] = max(widths[i], len(text))
    if width is not None:
        _shrink(widths, [min(len(h), MIN_COLUMN) for h in heads], width)
    lines = []
    for row in [heads, *cells]:
        parts = [truncate(text, widths[i]).ljust(widths[i]) for i, text in enumerate(row)]
        lines.append((" " * GAP).join(parts).rstrip())
    return "\n".join(lines)


def _shrink(widths: list[int], minimums: list[int], limit: int) -> None:
    excess = sum(widths) + GAP * (len(widths) - 1) - limit
    while excess > 0:
        candidates = [i for i, w in enumerate(widths) if w > max(minimums[i], MIN_COLUMN)]
        if not candidates:
            return
        widest = max(candidates, key=lambda i: widths[i])
        widths[widest] -= 1
        excess -= 1


def kv(pairs: Iterable[tuple[str, object]]) -> str:
    """``key  value`` lines with the values aligned; multi-line values stay indented."""
    items = [(k, "" if v is None else str(v)) for k, v in pairs]
    if not items:
        return ""
    pad = max(len(k) for k, _ in items) + GAP
    lines = []
    for key, value in items:
        first, *rest = value.split("\n") if value else [""]
        lines.append((key.ljust(pad) + first).rstrip())
        lines.extend((" " * pad + more).rstrip() for more in rest)
    return "\n".join(lines)


def duration(seconds: float | None) -> str:
    """``350ms``, ``1.2s``, ``3m04s``, ``2h05m``, ``3d04h``."""
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    total = int(seconds)
    if total < 3600:
        return f"{total // 60}m{total % 60:02d}s"
    if total < 86400:
        return f"{total // 3600}h{total % 3600 // 60:02d}m"
    return f"{total // 86400}d{total % 86400 // 3600:02d}h"


def size(n: int | None) -> str:
    """Bytes in binary units: ``512 B``, ``1.5 KiB``, ``45.2 MiB``."""
    if n is None:
        return ""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def pretty_json(value: Any) -> str:
    """Indented by 2, non-ASCII kept: what ``--json`` prints, exactly as
    ``json.dumps(value, indent=2, ensure_ascii=False)``. What seqctl prints is decoded
    JSON — dicts with string keys, lists, strings, numbers, true/false/null — and is
    laid out here without importing ``json`` (``seqctl status --json``); anything
    else (other keys, NaN, other types) is left to ``json``."""
    chunks: list[str] = []
    try:
        _indented(value, "\n", chunks)
    except (TypeError, ValueError, RecursionError):
        import json

        return json.dumps(value, indent=2, ensure_ascii=False)
    return "".join(chunks)


def _indented(value: Any, newline: str, chunks: list[str]) -> None:
    """``value`` as indented JSON; ``newline`` is a line break and the indentation of
    the line ``value`` starts on. TypeError or ValueError for what strict JSON cannot
    hold."""
    if isinstance(value, str):
        chunks.append(strictjson.quote(value))
    elif value is None:
        chunks.append("null")
    elif value is True:
        chunks.append("true")
    elif value is False:
        chunks.append("false")
    elif type(value) is int:
        chunks.append(int.__repr__(value))  # as json does (ValueError past 4300 digits)
    elif isinstance(value, dict):
        if not value:
            chunks.append("{}")
            return
        inner = newline + "  "
        separator = "{" + inner
        for key, member in value.items():
            if not isinstance(key, str):
                raise TypeError("a key json.dumps would convert")
            chunks += (separator, strictjson.quote(key), ": ")
            _indented(member, inner, chunks)
            separator = "," + inner
        chunks.append(newline + "}")
    elif isinstance(value, list | tuple):
        if not value:
            chunks.append("[]")
            return
        inner = newline + "  "
        separator = "[" + inner
        for member in value:
            chunks.append(separator)
            _indented(member, inner, chunks)
            separator = "," + inner
        chunks.append(newline + "]")
    else:
        chunks.append(strictjson.dumps(value))  # floats; errors for what JSON cannot hold


def compact_json(value: Any) -> str:
    """One line, no spaces: JSON lines, and values inside an error message."""
    import json

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def text_of(value: object, as_json: Callable[[Any], str] = compact_json) -> str:
    """A value for people: a string as is, anything else as JSON (``as_json``)."""
    return value if isinstance(value, str) else as_json(value)


def detail_lines(details: dict[str, Any], indent: str = "  ") -> list[str]:
    """An error's details for people, one ``key: value`` per line: a list of strings is
    a block of lines below its key (a command's last stderr lines), a list of objects
    one line each (the candidates of an ambiguous run id), anything else as JSON."""
    lines: list[str] = []
    for label, value in details.items():
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            lines.append(f"{indent}{label}:")
            lines.extend(f"{indent}  {v}" for v in value)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            lines.append(f"{indent}{label}:")
            lines.extend(f"{indent}  " + "  ".join(text_of(x) for x in v.values()) for v in value)
        else:
            lines.append(f"{indent}{label}: {text_of(value)}")
    return lines


# -- timestamps (RFC 3339 UTC on the wire, local time on screen) --------------------------


def parse_ts(text: str | None) -> datetime | None:
    if not text:
        return None
    from datetime import datetime

    try:
        return datetime.fromisoformat(text).astimezone()
    except ValueError:
        return None


def short_time(text: str | None, now: datetime | None = None) -> str:
    """Today: ``14:03:12``; this year: ``05-09 14:03``; else ``2025-05-09 14:03``."""
    ts = parse_ts(text)
    if ts is None:
        return text or ""
    if now is None:
        from datetime import datetime

        now = datetime.now().astimezone()
    if ts.date() == now.date():
        return ts.strftime("%H:%M:%S")
    if ts.year == now.year:
        return ts.strftime("%m-%d %H:%M")
    return ts.strftime("%Y-%m-%d %H:%M")


def clock(text: str | None) -> str:
    """``HH:MM:SS.mmm`` in local time, for log lines."""
    ts = parse_ts(text)
    if ts is None:
        return text or ""
    return ts.strftime("%H:%M:%S.") + f"{ts.microsecond // 1000:03d}"


def full_time(text: str | None) -> str:
    ts = parse_ts(text)
    if ts is None:
        return text or ""
    return ts.strftime("%Y-%m-%d %H:%M:%S.") + f"{ts.microsecond // 1000:03d} {ts:%Z}"


def elapsed(start: str | None, end: str | None) -> float | None:
    """Seconds from ``start`` to ``end`` (to now when ``end`` is None)."""
    begin = parse_ts(start)
    if begin is None:
        return None
    finish = parse_ts(end)
    if finish is None:
        if end:
            return None
        from datetime import datetime

        finish = datetime.now().astimezone()
    return max((finish - begin).total_seconds(), 0.0)


# -- the printer handlers write through ------------------------------------------------------


class Out:
    """Where a command's output goes, and whether it is JSON (``--json``)."""

    def __init__(
        self, json: bool = False, stdout: TextIO | None = None, stderr: TextIO | None = None
    ) -> None:
        self.json_mode = json
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr

    def line(self, text: str = "") -> None:
        self.stdout.write(text + "\n")

    def error(self, text: str) -> None:
        try:
            self.stdout.flush()  # keep stdout and stderr in order on a terminal
        except OSError:
            pass  # stdout is gone (a closed pipe): stderr may still be read
        self.stderr.write(text + "\n")
        self.stderr.flush()

    def json(self, value: Any) -> None:
        self.line(pretty_json(value))

    def json_error(self, type: str, message: str, details: dict[str, Any] | None = None) -> None:
        """With ``--json``, an error on stdout too, as a script reads it:
        ``{"error": {"type", "message", "details"}}`` (the exit status says the kind)."""
        if self.json_mode:
            self.json({"error": {"type": type, "message": message, "details": details or {}}})

    def result(self, value: T, as_text: Callable[[T], object]) -> None:
        """A command's result: as JSON with ``--json``, else ``as_text(value)`` prints
        it for people (``out.line``, a table, key/value lines...)."""
        if self.json_mode:
            self.json(value)
        else:
            as_text(value)

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
        self.line(table(headers, rows, terminal_width(self.stdout)))

    def kv(self, pairs: Iterable[tuple[str, object]]) -> None:
        self.line(kv(pairs))


def terminal_width(stream: TextIO) -> int | None:
    """The width to fit, or None when ``stream`` is not a terminal (never cut then)."""
    try:
        if not stream.isatty():
            return None
        columns = os.environ.get("COLUMNS", "")
        return int(columns) if columns.isdigit() else os.get_terminal_size(stream.fileno())[0]
    except (OSError, ValueError):
        return None
