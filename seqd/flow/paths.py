"""The path language of flows: ``$.steps.fetch.output.items[0]``.

A path names a place in the flow's context object. It is parsed by hand (no regular
expression over the whole text, no evaluation), checked against fixed limits, and looked
up without ever raising on the data: a segment that is absent or of the wrong kind gives
``MISSING``, which the template and condition code turn into their own meaning.

Grammar::

    path    = "$" segment+
    segment = "." ident | "[" int "]" | "[" quoted "]"
    ident   = [A-Za-z_][A-Za-z0-9_-]*
    int     = "-"? digit+            (negative: from the end of a list)
    quoted  = '"' ... '"' | "'" ... "'"   (backslash escapes only the quote and itself)
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from typing import Any, Final, Literal

MAX_PATH_CHARS: Final = 1000
MAX_SEGMENTS: Final = 64
MAX_INDEX_DIGITS: Final = 9

_IDENT_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_IDENT_REST = _IDENT_START | frozenset("0123456789-")
_DIGITS = frozenset("0123456789")


class _Missing(enum.Enum):
    MISSING = "MISSING"

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing.MISSING
"""What ``lookup`` returns when the path leads nowhere (distinct from JSON ``null``)."""

Missing = Literal[_Missing.MISSING]


class PathError(ValueError):
    """A path that does not parse; ``position`` is the 0-based offset of the fault."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at position {position})")
        self.message = message
        self.position = position


@dataclass(frozen=True, slots=True)
class Path:
    """A parsed path: its source text and its segments (names and list indexes)."""

    text: str
    segments: tuple[str | int, ...]

    @property
    def root(self) -> str:
        """The first segment: which part of the context the path reads (always a name)."""
        first = self.segments[0]
        assert isinstance(first, str)
        return first

    def __str__(self) -> str:
        return self.text


def parse_path(text: str) -> Path:
    """Parse ``text`` as a path, or raise ``PathError`` saying what is wrong and where."""
    if not isinstance(text, str):
        raise PathError("a path must be a string", 0)
    return _parse(text)


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> Path:
    # Cached: the executor parses the same few paths once per state entry.
    if len(text) > MAX_PATH_CHARS:
        raise PathError(f"a path may have at most {MAX_PATH_CHARS} characters", MAX_PATH_CHARS)
    if not text.startswith("$"):
        raise PathError("a path starts with '$'", 0)
    segments: list[str | int] = []
    i, n = 1, len(text)
    while i < n:
        if len(segments) == MAX_SEGMENTS:
            raise PathError(f"a path may have at most {MAX_SEGMENTS} segments", i)
        ch = text[i]
        if ch == ".":
            i, name = _ident(text, i + 1)
            segments.append(name)
        elif ch == "[":
            i, seg = _bracket(text, i + 1)
            segments.append(seg)
        else:
            raise PathError(f"expected '.' or '[' but found {ch!r}", i)
    if not segments:
        raise PathError("a path needs at least one segment after '$', as in '$.input'", 1)
    if not isinstance(segments[0], str):
        raise PathError("a path starts with a name ('$.input', '$.steps'...), not an index", 1)
    return Path(text, tuple(segments))


def _ident(text: str, i: int) -> tuple[int, str]:
    if i >= len(text) or text[i] not in _IDENT_START:
        found = repr(text[i]) if i < len(text) else "the end"
        raise PathError(f"expected a name after '.' but found {found}", i)
    start = i
    i += 1
    while i < len(text) and text[i] in _IDENT_REST:
        i += 1
    return i, text[start:i]


def _bracket(text: str, i: int) -> tuple[int, str | int]:
    n = len(text)
    if i >= n:
        raise PathError("unclosed '['", i)
    ch = text[i]
    if ch in "\"'":
        quote, start = ch, i
        i += 1
        chars: list[str] = []
        while True:
            if i >= n:
                raise PathError("unclosed quoted key", start)
            c = text[i]
            if c == "\\":
                if i + 1 < n and text[i + 1] in (quote, "\\"):
                    chars.append(text[i + 1])
                    i += 2
                    continue
                raise PathError(f"a backslash may only escape {quote} or \\", i)
            if c == quote:
                i += 1
                break
            chars.append(c)
            i += 1
        key: str | int = "".join(chars)
    else:
        start = i
        if ch == "-":
            i += 1
        digits = i
        while i < n and text[i] in _DIGITS:
            i += 1
        if i == digits:
            raise PathError("expected a number or a quoted key after '['", start)
        if i - digits > MAX_INDEX_DIGITS:
            raise PathError(f"an index may have at most {MAX_INDEX_DIGITS} digits", digits)
        key = int(text[start:i])
    if i >= n or text[i] != "]":
        raise PathError("expected ']'", i)
    return i + 1, key


def lookup(path: Path, data: Any) -> Any:
    """The value at ``path`` in ``data``, or ``MISSING``; never raises on the data."""
    value = data
    for seg in path.segments:
        if isinstance(seg, str):
            if not isinstance(value, dict) or seg not in value:
                return MISSING
            value = value[seg]
        else:
            if not isinstance(value, list):
                return MISSING
            if not -len(value) <= seg < len(value):
                return MISSING
            value = value[seg]
    return value


def format_segments(segments: tuple[str | int, ...]) -> str:
    """Segments written back as path text (``.name``, ``[3]``, ``["odd key"]``)."""
    out: list[str] = []
    for seg in segments:
        if isinstance(seg, int):
            out.append(f"[{seg}]")
        elif seg and seg[0] in _IDENT_START and all(c in _IDENT_REST for c in seg):
            out.append(f".{seg}")
        else:
            escaped = seg.replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'["{escaped}"]')
    return "".join(out)
