"""The errors every backend raises for the same conditions, worded once.

Its own module because clients and the engine see these messages whichever backend is
configured: a taken run id or idempotency key is the same ``Conflict`` everywhere, and
a store that cannot be reached says so in the same words, naming where it is.
"""

from __future__ import annotations

from typing import Any

from seqd.errors import Conflict, StorageUnavailable


def run_exists(run_id: str) -> Conflict:
    """``create_run`` of an id that is already stored."""
    return Conflict(f"run {run_id} already exists", {"id": run_id})


def key_taken(run_id: str, key: str | None) -> Conflict:
    """``update_run`` giving run ``run_id`` an idempotency key another run holds."""
    return Conflict(
        f"idempotency key {key!r} belongs to another run",
        {"id": run_id, "idempotency_key": key},
    )


def not_open(
    label: str, location: str, closing: bool = False, details: dict[str, Any] | None = None
) -> StorageUnavailable:
    """A call on a store that is not open yet, or no more (``closing``)."""
    state = "closed" if closing else "not open"
    return StorageUnavailable(f"{label} at {location} is {state}", details)


def unavailable(label: str, location: str, why: str, **details: Any) -> StorageUnavailable:
    """The store at ``location`` cannot be used right now (``label`` names the kind of
    store, e.g. ``SQLite storage``); ``details`` go with ``location`` to the client."""
    return StorageUnavailable(
        f"{label} at {location} is unavailable: {why}", {"location": location, **details}
    )
