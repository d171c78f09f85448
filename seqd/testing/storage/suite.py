"""``StorageConformance``: every group of cases in one base class.

Its own module because the suite is the sum of the groups (one module each: claims,
runs, idempotency scopes, batches, imports, listing, finding, logs, steps, kv, change positions,
alert history, schedules, durability, crash safety, pruning, traces); a backend's test
subclasses this one class and so runs them all.
"""

from __future__ import annotations

from seqd.testing.storage.alerts import AlertCases
from seqd.testing.storage.batches import BatchCases
from seqd.testing.storage.changes import ChangeCases
from seqd.testing.storage.claims import ClaimCases
from seqd.testing.storage.crash import CrashCases
from seqd.testing.storage.durability import DurabilityCases
from seqd.testing.storage.finding import FindingCases
from seqd.testing.storage.imports import ImportCases
from seqd.testing.storage.kv import KVCases
from seqd.testing.storage.listing import ListingCases
from seqd.testing.storage.logs import LogCases
from seqd.testing.storage.pruning import PruneCases
from seqd.testing.storage.runs import RunCases
from seqd.testing.storage.schedules import ScheduleCases
from seqd.testing.storage.scopes import ScopeCases
from seqd.testing.storage.steps import StepCases
from seqd.testing.storage.traces import TraceCases


class StorageConformance(
    ClaimCases,
    CrashCases,
    RunCases,
    ScopeCases,
    BatchCases,
    ImportCases,
    ListingCases,
    FindingCases,
    LogCases,
    StepCases,
    DurabilityCases,
    KVCases,
    ChangeCases,
    AlertCases,
    TraceCases,
    PruneCases,
    ScheduleCases,
):
    """Base class of the suite; a subclass provides the ``make_backend`` and
    ``store_spec`` fixtures."""
