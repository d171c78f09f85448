"""Versioned schemas: the rules every store's migrations follow, whatever runs them.

Its own module because each backend applies its migrations its own way (a SQLite
transaction and ``user_version``, a PostgreSQL advisory lock and a table) but they must
agree on what a version is: migrations are numbered 1, 2, 3... with none missing, and a
store written by a newer seqd is refused before anything is changed, never guessed at.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from seqd.errors import StorageUnavailable


class SchemaTooNew(StorageUnavailable):
    """The store was migrated by a newer seqd; this one cannot know what it means."""


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


def latest_version(migrations: Sequence[Versioned]) -> int:
    """The version ``migrations`` lead to (0 for none), once they are checked to be
    numbered 1, 2, 3... in order."""
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migration versions must be 1, 2, 3... in order, got {versions}")
    return versions[-1] if versions else 0


def checked_version(version: int, latest: int, where: str, remedy: str) -> int:
    """``version``, the one found in the store at ``where``, unless it is newer than
    this seqd knows (``latest``): then ``SchemaTooNew``, saying what to do (``remedy``)."""
    if version > latest:
        raise SchemaTooNew(
            f"{where} has schema version {version}, but this seqd only knows up to "
            f"{latest}: it was written by a newer seqd. Upgrade seqd, or {remedy}.",
            {"found": version, "supported": latest},
        )
    return version
