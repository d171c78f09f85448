"""The file store's schedules: ``<root>/schedules/<sha256 of the name>.json``, one
record file each (``records``), holding the whole schedule on one line. The scheduler
rewrites one at each fire (its cursor), never more; listing reads the folder, fine for
the thousands of schedules a machine has, each file a few hundred bytes.
"""

from __future__ import annotations

import os

from seqd.builtin.storage.fs import records
from seqd.model.schedules import Schedule
from seqd.plugins.storage_kit.records import SCHEDULE_DECODER

WHAT = "schedule"


def folder(root: str) -> str:
    return os.path.join(root, "schedules")


def schedule_file(root: str, name: str) -> str:
    return records.record_file(folder(root), name)


def read(root: str, name: str) -> Schedule | None:
    return records.read(schedule_file(root, name), SCHEDULE_DECODER, WHAT)


def read_all(root: str) -> list[Schedule]:
    """Every schedule, sorted by name."""
    return sorted(records.read_folder(folder(root), SCHEDULE_DECODER, WHAT), key=lambda s: s.name)
