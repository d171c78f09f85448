"""Checking an export as it is read: what ``seqd import --verify`` reports and what
``seqd import`` refuses.

An export ends with a ``trailer`` record (format version 5 on): how many runs, log
lines, journal entries, kv keys and schedules came before it, and the SHA-256 of every
byte before it. A file cut short has no trailer; a changed one (even into other valid
JSON) has another checksum; a record dropped or added changes the counts too. The
records must also be in the order export writes them: a run's ``logs`` and ``steps``
records right after its ``run`` record, so that import can write each run whole.

Files from before the trailer (versions 1 to 4) cannot be checked: they are refused
unless the caller allows them (``seqd import --allow-unverified``).
"""

from __future__ import annotations

import hashlib

import msgspec

from seqd.storage.transfer_format import (
    DECODER,
    FORMAT,
    READABLE_VERSIONS,
    TRAILER_SINCE,
    Header,
    KVRecord,
    LogsRecord,
    Record,
    RunRecord,
    ScheduleRecord,
    StepsRecord,
    Tally,
    Trailer,
    TransferError,
)


class Checker:
    """Feed it every line of a file in order (``feed``), then call ``finish``."""

    def __init__(self, allow_unverified: bool = False) -> None:
        self.allow_unverified = allow_unverified
        self.header: Header | None = None
        self.trailer: Trailer | None = None
        self.tally = Tally()
        """What the file holds, counted as it is read."""
        self._sha = hashlib.sha256()
        self._line = 0
        self._run: str | None = None
        """The run whose ``logs`` and ``steps`` records may come now."""

    @property
    def verified(self) -> bool:
        return self.trailer is not None

    def feed(self, raw: bytes) -> Record | None:
        """The record on this line, checked; None for a blank line or the trailer."""
        self._line += 1
        where = f"line {self._line}"
        if self.trailer is not None:
            if raw.strip():
                raise TransferError(f"{where}: data after the trailer")
            return None
        if not raw.strip():
            self._sha.update(raw + b"\n")
            return None
        try:
            record = DECODER.decode(raw)
        except msgspec.DecodeError as exc:
            raise TransferError(f"{where}: {exc}") from None
        if isinstance(record, Trailer):
            self._close(record, where)
            return None
        self._sha.update(raw + b"\n")
        if isinstance(record, Header):
            self._open(record, where)
        elif self.header is None:
            raise TransferError("not a seqd export: the first line is not its header")
        else:
            self._count(record, where)
        return record

    def _open(self, header: Header, where: str) -> None:
        if self.header is not None:
            raise TransferError(f"{where}: a second header")
        if header.format != FORMAT or header.version not in READABLE_VERSIONS:
            raise TransferError(f"{where}: unsupported export {header.format} v{header.version}")
        if header.version < TRAILER_SINCE and not self.allow_unverified:
            raise TransferError(
                f"a version {header.version} export has no trailer, so it cannot be checked "
                "for a cut or a change; import it with --allow-unverified if you trust it"
            )
        self.header = header

    def _count(self, record: Record, where: str) -> None:
        tally = self.tally
        if isinstance(record, RunRecord):
            tally.runs += 1
            self._run = record.run.id
            return
        if isinstance(record, (LogsRecord, StepsRecord)):
            if record.run_id != self._run:
                what = "log lines" if isinstance(record, LogsRecord) else "journal entries"
                raise TransferError(
                    f"{where}: {what} of run {record.run_id} not right after its run record"
                )
            if isinstance(record, LogsRecord):
                tally.log_lines += len(record.lines)
            else:
                tally.steps += len(record.steps)
            return
        self._run = None
        if isinstance(record, KVRecord):
            tally.kv_keys += len(record.entries)
        elif isinstance(record, ScheduleRecord):
            tally.schedules += 1

    def _close(self, trailer: Trailer, where: str) -> None:
        if self.header is None:
            raise TransferError("not a seqd export: the first line is not its header")
        if self.header.version < TRAILER_SINCE:
            raise TransferError(f"{where}: a trailer in a version {self.header.version} export")
        wrong = [
            f"{name}: the trailer says {said}, the file holds {held}"
            for name, said, held in zip(
                Tally.__struct_fields__,
                msgspec.structs.astuple(trailer.counts),
                msgspec.structs.astuple(self.tally),
                strict=True,
            )
            if said != held
        ]
        if trailer.sha256 != self._sha.hexdigest():
            wrong.append("the checksum of the file does not match its trailer's")
        if wrong:
            raise TransferError(
                f"{where}: the export was changed or cut after it was written: " + "; ".join(wrong)
            )
        self.trailer = trailer

    def finish(self) -> None:
        """At the end of the file: refuse it when something is missing."""
        if self.header is None:
            raise TransferError("not a seqd export: no header line")
        if self.header.version >= TRAILER_SINCE and self.trailer is None:
            raise TransferError(
                f"the export is incomplete: no trailer after line {self._line} "
                "(the file was cut short)"
            )

    def digest(self) -> str:
        return self._sha.hexdigest()
