"""The records of an export file (JSON Lines, one record a line, tagged by ``type``).

A ``header`` line, then for each run a ``run`` record followed by its log lines in
``logs`` records and its journal in ``steps`` records, then ``kv`` records (a
namespace at a time), then ``schedule`` records, and last a ``trailer``: what came
before it, counted, and the SHA-256 of every byte before it (``transfer_check``).

Version 2 added ``steps`` records, version 3 ``kv`` records, version 4 ``schedule``
records, version 5 the trailer. The header says which, so an older seqd refuses the
whole file up front instead of stopping at the first record it does not know after
importing half of it.
"""

from __future__ import annotations

import msgspec

from seqd import __version__
from seqd.model.runs import KVEntry, LogLine, Run, Step
from seqd.model.schedules import Schedule

FORMAT = "seqd-export"
FORMAT_VERSION = 5
READABLE_VERSIONS = (1, 2, 3, 4, 5)
TRAILER_SINCE = 5
"""The first version whose files end with a trailer (older ones cannot be checked)."""


class TransferError(Exception):
    """The input is not a seqd export, is from an unknown format version, or does not
    add up (cut short, changed, out of order)."""


class Header(msgspec.Struct, tag="header", kw_only=True):
    format: str = FORMAT
    version: int = FORMAT_VERSION
    seqd: str = __version__
    exported_at: str
    source: str


class RunRecord(msgspec.Struct, tag="run", kw_only=True):
    run: Run


class LogsRecord(msgspec.Struct, tag="logs", kw_only=True):
    run_id: str
    lines: list[LogLine]


class StepsRecord(msgspec.Struct, tag="steps", kw_only=True):
    """Journal entries of one run, in order, as the source store numbered them; import
    writes them in that order (the target numbers them, from 1 like the source)."""

    run_id: str
    steps: list[Step]


class KVRecord(msgspec.Struct, tag="kv", kw_only=True):
    namespace: str
    entries: list[KVEntry]


class ScheduleRecord(msgspec.Struct, tag="schedule", kw_only=True):
    schedule: Schedule


class Tally(msgspec.Struct, kw_only=True):
    """What a file holds (or an import wrote): runs, and the entries of each kind."""

    runs: int = 0
    log_lines: int = 0
    steps: int = 0
    kv_keys: int = 0
    schedules: int = 0


class Trailer(msgspec.Struct, tag="trailer", kw_only=True):
    """The last line: ``counts`` of what came before it, and ``sha256``, the hex
    SHA-256 of every byte before this line (the header's first byte to the newline
    ending the line before)."""

    counts: Tally
    sha256: str


Record = Header | RunRecord | LogsRecord | StepsRecord | KVRecord | ScheduleRecord | Trailer
ENCODER = msgspec.json.Encoder()
DECODER = msgspec.json.Decoder(Record)
