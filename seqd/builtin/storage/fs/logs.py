"""Seq-numbered JSON Lines files: run logs (``<run id>.log.jsonl``, one ``LogLine``
per line) and run journals (``<run id>.journal.jsonl``, one ``Step`` per line).

A journal is a log of steps: both are append-only, numbered by ``seq`` from 1, read by
"after seq N", and must survive exactly the same crashes. So one piece of code serves
both; a ``Format`` says only how an entry becomes a line and back. Every line starts
with its ``"seq"`` so that finding a line's number never needs a full decode.

Appends are one ``write`` of whole lines to a file opened ``O_APPEND``; a failed or
short write is cut back off, so a line is in the file whole or not at all. The loop
keeps a ``LogState`` per run: the last seq (numbering continues after a reopen), the
byte length of the complete lines (reads never look past it, so a reader never sees
half of an append in progress) and a sparse index — the byte offset of about every
``STRIDE``-th line — so a read "after seq N" seeks close to its first line instead
of reading the file from the start. The sparse index is extended by appends and, for
files found at open, built lazily by the reads that walk over them.

At open, ``recover`` drops a torn tail (bytes after the last newline, or lines that do
not parse) left by a crash, and finds the last seq from the last good line.
"""

from __future__ import annotations

import logging
import os
from bisect import bisect_right
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec

from seqd.builtin.storage.fs.files import JOURNAL_SUFFIX, LOG_SUFFIX, Batch, make_dirs, write_all
from seqd.model.runs import LogLine, NewLogLine, NewStep, Step
from seqd.plugins.storage_kit.records import unnumbered

logger = logging.getLogger(__name__)

STRIDE = 1000
"""Lines between two entries of the sparse offset index."""
CHUNK = 256 * 1024
_PREFIX = b'{"seq":'
_ENCODER = msgspec.json.Encoder()

Mark = tuple[int, int]  # (seq, byte offset of that line)
E = TypeVar("E")  # an entry as read back (LogLine, Step)
N = TypeVar("N")  # an entry as appended, before it has a seq (NewLogLine, NewStep)


class _Seq(msgspec.Struct):
    """Only the ``seq`` of a line (the rest is skipped), for lines not in our format."""

    seq: int


_SEQ = msgspec.json.Decoder(_Seq)


@dataclass(frozen=True, eq=False)
class Format(Generic[E, N]):
    """One kind of seq file: its file name suffix, how an entry is written (``write``
    appends the line for entry ``N`` numbered ``seq``, without the newline, to the
    buffer) and how a line is read back."""

    suffix: str
    name: str
    """What the file is called in messages: ``log``, ``journal``."""
    write: Callable[[int, N, bytearray], None]
    decoder: msgspec.json.Decoder[E]


def _write_log(seq: int, line: NewLogLine, buf: bytearray) -> None:
    _ENCODER.encode_into(LogLine(seq=seq, ts=line.ts, stream=line.stream, text=line.text), buf, -1)


def _write_step(seq: int, step: NewStep, buf: bytearray) -> None:
    # ``Step`` puts ``seq`` last (it extends ``NewStep``); on disk it goes first, like a
    # log line's: the entry's own JSON object, opened with its seq.
    buf += b'{"seq":%d,' % seq
    buf += _ENCODER.encode(unnumbered(step))[1:]


LOGS: Format[LogLine, NewLogLine] = Format(
    LOG_SUFFIX, "log", _write_log, msgspec.json.Decoder(LogLine)
)
JOURNALS: Format[Step, NewStep] = Format(
    JOURNAL_SUFFIX, "journal", _write_step, msgspec.json.Decoder(Step)
)
FORMATS: tuple[Format[Any, Any], ...] = (LOGS, JOURNALS)
"""Every kind of per-run seq file: the files that travel with a run's record."""


class LogState:
    """What the loop knows of one run's log (or journal) file."""

    __slots__ = ("indexed_to", "last_seq", "marks", "size", "task")

    def __init__(self, task: str | None, last_seq: int = 0, size: int = 0) -> None:
        self.task = task
        """The folder the file is in (``Layout.seq_file``); None: under ``orphans/``."""
        self.last_seq = last_seq
        self.size = size
        self.marks: list[Mark] = []
        self.indexed_to = 0
        """Bytes of the file the marks account for (every line starting before it)."""

    def appended(self, start: int, end: int, marks: list[Mark], last_seq: int) -> None:
        """Record an append of lines ``[start, end)`` whose own marks are ``marks``
        (offsets relative to ``start``), ending at ``last_seq``."""
        if start != self.size:  # the file was not what we thought: rebuild the index
            self.marks, self.indexed_to = [], 0
        if self.indexed_to == start:
            for seq, rel in marks:
                if not self.marks or seq >= self.marks[-1][0] + STRIDE:
                    self.marks.append((seq, start + rel))
            self.indexed_to = end
        self.size = end
        self.last_seq = last_seq

    def learned(self, base_marks: int, base_indexed: int, found: LogRead[Any]) -> None:
        """Keep what a read found about the file, unless the index moved meanwhile."""
        if found.indexed_to > self.indexed_to and (
            (len(self.marks), self.indexed_to) == (base_marks, base_indexed)
        ):
            self.marks.extend(found.marks)
            self.indexed_to = found.indexed_to


def encode(fmt: Format[Any, N], first_seq: int, entries: Sequence[N]) -> tuple[bytes, list[Mark]]:
    """The bytes to append for ``entries`` and every line's (seq, relative offset) that
    may become a mark (the caller keeps those ``STRIDE`` apart)."""
    buf = bytearray()
    marks: list[Mark] = []
    for seq, entry in enumerate(entries, first_seq):
        marks.append((seq, len(buf)))
        fmt.write(seq, entry, buf)
        buf += b"\n"
    return bytes(buf), marks


def append(path: str, expected_size: int, data: bytes, batch: Batch) -> tuple[int, int]:
    """Append ``data`` (whole lines) to ``path``; returns the (start, end) offsets.

    Bytes past ``expected_size`` are leftovers of a write that failed and could not be
    cut off then; they are cut off now. On failure the file is cut back to where the
    append started, so a half-written line never stays.
    """
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o644)
    except FileNotFoundError:
        make_dirs(os.path.dirname(path), batch)
        fd = os.open(path, flags, 0o644)
    try:
        start = os.fstat(fd).st_size
        if start == 0:
            batch.touched(os.path.dirname(path))  # may be new: its entry must be synced
        if start > expected_size:
            logger.warning("cutting %d stray bytes off %s", start - expected_size, path)
            os.ftruncate(fd, expected_size)
            start = expected_size
        elif start < expected_size:
            logger.warning("%s is shorter than written (%d < %d)", path, start, expected_size)
        try:
            write_all(fd, data)
            if batch.durable:
                os.fdatasync(fd)
        except BaseException:
            with suppress(OSError):
                os.ftruncate(fd, start)
            raise
        return start, start + len(data)
    finally:
        os.close(fd)


def line_seq(line: bytes) -> int | None:
    """The seq of a stored line, cheaply when it is in our own format."""
    if line.startswith(_PREFIX):
        end = line.find(b",", len(_PREFIX))
        with suppress(ValueError):
            return int(line[len(_PREFIX) : end])
    try:
        return _SEQ.decode(line).seq
    except msgspec.DecodeError:
        return None


@dataclass
class LogRead(Generic[E]):
    lines: list[E]
    marks: list[Mark]
    """New marks found past the index's end."""
    indexed_to: int


def read(
    fmt: Format[E, Any],
    path: str,
    size: int,
    marks: list[Mark],
    n_marks: int,
    indexed_to: int,
    after: int,
    limit: int,
) -> LogRead[E]:
    """Entries with seq > ``after`` (at most ``limit``) from the first ``size`` bytes,
    starting at the last mark at or before them and extending the marks on the way.
    ``marks[:n_marks]`` is the index as it was when the read was asked for."""
    i = bisect_right(marks, after + 1, 0, n_marks, key=lambda m: m[0]) - 1
    offset = marks[i][1] if i >= 0 else 0
    last_mark = marks[n_marks - 1][0] if n_marks else None
    new_marks: list[Mark] = []
    out: list[E] = []
    reached = offset
    with open(path, "rb") as f:
        f.seek(offset)
        pending = b""
        while reached < size and len(out) < limit:
            chunk = f.read(min(CHUNK, size - offset))
            if not chunk:
                break
            offset += len(chunk)
            pieces = (pending + chunk).split(b"\n")
            pending = pieces.pop()
            for line in pieces:
                start, reached = reached, reached + len(line) + 1
                seq = line_seq(line)
                if seq is None:
                    logger.warning("skipping an unreadable line at byte %d of %s", start, path)
                    continue
                if start >= indexed_to and (last_mark is None or seq >= last_mark + STRIDE):
                    new_marks.append((seq, start))
                    last_mark = seq
                if seq > after:
                    try:
                        out.append(fmt.decoder.decode(line))
                    except msgspec.DecodeError:
                        logger.warning("skipping an unreadable line at byte %d of %s", start, path)
                        continue
                    if len(out) == limit:
                        break
    return LogRead(out, new_marks, max(indexed_to, reached))


def _start_of_line(fd: int, stop: int) -> int:
    """The offset just after the last newline before ``stop`` (0 if there is none)."""
    pos = stop
    while pos > 0:
        lo = max(0, pos - 65536)
        chunk = os.pread(fd, pos - lo, lo)
        i = chunk.rfind(b"\n")
        if i >= 0:
            return lo + i + 1
        pos = lo
    return 0


def recover(path: str, cut: bool = True) -> tuple[int, int]:
    """(size, last seq) of the good part of ``path``; with ``cut`` a torn tail is cut
    off (without, it is left alone: another process may be writing it)."""
    fd = os.open(path, (os.O_RDWR if cut else os.O_RDONLY) | os.O_CLOEXEC)
    try:
        end = os.fstat(fd).st_size
        good = end
        if good and os.pread(fd, 1, good - 1) != b"\n":
            good = _start_of_line(fd, good)
        last_seq = 0
        while good:
            start = _start_of_line(fd, good - 1)
            head = os.pread(fd, min(64, good - 1 - start), start)
            if not head.startswith(_PREFIX) or b"," not in head:
                head = os.pread(fd, good - 1 - start, start)
            seq = line_seq(head)
            if seq is not None:
                last_seq = seq
                break
            good = start
        if good < end and cut:
            logger.warning("cutting a torn tail of %d bytes off %s", end - good, path)
            os.ftruncate(fd, good)
        return good, last_seq
    finally:
        os.close(fd)
