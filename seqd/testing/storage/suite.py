"""``StorageConformance``: every group of cases in one base class.

Its own module because the suite is the sum of the groups (one module each: runs,
listing, logs, steps, kv, change positions, durability, crash safety); a backend's test
subclasses this one class and so runs them all.
"""

from __future__ import annotations

from seqd.testing.storage.changes import ChangeCases
from seqd.testing.storage.crash import CrashCases
from seqd.testing.storage.durability import DurabilityCases
from seqd.testing.storage.kv import KVCases
from seqd.testing.storage.listing import ListingCases
from seqd.testing.storage.logs import LogCases
from seqd.testing.storage.runs import RunCases
from seqd.testing.storage.steps import StepCases


class StorageConformance(
    CrashCases, RunCases, ListingCases, LogCases, StepCases, DurabilityCases, KVCases, ChangeCases
):
    """Base class of the suite; a subclass provides the ``make_backend`` and
    ``store_spec`` fixtures."""
