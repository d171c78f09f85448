"""What an SQLite failure means to the daemon.

Its own module because the writer thread, the loop's fast path and the readers all
sort failures the same way: a result code that describes the storage (locked,
read-only, full, I/O, a corrupt or replaced file) becomes ``StorageUnavailable``, which
the engine rides out; anything else is the statement's own failure (a constraint).
"""

from __future__ import annotations

import sqlite3

from seqd.errors import StorageUnavailable
from seqd.plugins.storage_kit.errors import unavailable as storage_unavailable

LABEL = "SQLite storage"
"""How messages name this store."""

# Primary result codes that describe the storage, not the statement: the condition may
# pass (a lock is released, space is freed), so the caller gets StorageUnavailable.
UNAVAILABLE_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
        sqlite3.SQLITE_NOTADB,
    }
)


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the storage (not the op) is in trouble."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is None:
            return isinstance(exc, sqlite3.OperationalError)
        return (code & 0xFF) in UNAVAILABLE_CODES
    return isinstance(exc, OSError)


def unavailable(exc: BaseException, location: str) -> StorageUnavailable:
    """``exc`` (a failure of the storage itself) as the error callers see."""
    name = getattr(exc, "sqlite_errorname", None)
    details = {"sqlite_error": name} if name else {}
    return storage_unavailable(LABEL, location, str(exc), **details)
