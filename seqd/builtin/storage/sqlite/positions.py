"""The change positions of the SQLite store: how its run writes are numbered.

Its own module because the number is this process's to hand out, cheaply and in commit
order. Every write runs on the one write connection (on the writer thread, or on the
loop when it is idle, never both at once), so a counter kept here, read from the file
once at open, numbers them in the order they commit: no ``max()`` read and no
``RETURNING`` per write (together a third of a run write's cost). Another process that
writes the same file (an import beside the daemon) moves the highest number on without
this counter knowing: the insert then hits the unique index on ``change_seq``, and the
write reads the highest number again and takes the next one — SQLite lets one
transaction write at a time, so that one is next in commit order too.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from seqd.plugins.storage_kit.sql import RUN_COLUMNS

LAST = "SELECT coalesce(max(change_seq), 0) FROM runs"
COLUMNS = len(RUN_COLUMNS)
_TAKEN = "runs.change_seq"
"""What SQLite names in the error when a position is already taken."""


class Positions:
    def __init__(self) -> None:
        self.last = 0

    def load(self, conn: sqlite3.Connection) -> int:
        """The highest position in the file (never moving this counter back)."""
        self.last = max(self.last, int(conn.execute(LAST).fetchall()[0][0]))
        return self.last

    def write(self, conn: sqlite3.Connection, statement: str, row: Sequence[Any]) -> int:
        """Run an insert or update of a run — ``row`` as ``storage_kit.sql.run_row``
        gives it, plus any trailing parameters — with the next position before its
        id; the position, or 0 when no row was written."""
        for retry in (False, True):
            position = self.last + 1
            params = (*row[:COLUMNS], position, *row[COLUMNS:])
            try:
                written = conn.execute(statement, params).rowcount
            except sqlite3.IntegrityError as exc:
                if retry or _TAKEN not in str(exc):
                    raise
                self.load(conn)  # another process wrote: go on after it
                continue
            if written != 1:
                return 0
            self.last = position
            return position
        raise AssertionError("unreachable")
