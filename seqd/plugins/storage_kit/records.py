"""The records a backend hands back: run pages, numbered journal entries, key-value
entries and their listing.

Its own module because these rules come from the contract, not from any one store:
how a page of runs ends and where the next begins, how a journal entry is numbered
whatever it was before, when a key-value entry is stamped and how a prefix listing
pages. Every backend applies them alike, whatever it keeps underneath.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from seqd.errors import ValidationFailed
from seqd.model.runs import KVEntry, NewStep, Run, RunPage, RunQuery, Step
from seqd.model.schedules import Schedule
from seqd.model.timeutil import now
from seqd.plugins.storage import MAX_SCHEDULE_NAME, check_kv_name, check_name

_ENCODER = msgspec.json.Encoder()
_NEW_STEP_FIELDS = NewStep.__struct_fields__

# -- runs ---------------------------------------------------------------------------------


def check_run_query(query: RunQuery) -> None:
    """What ``list_runs`` refuses whatever the store: a page of no runs."""
    if query.limit < 1:
        raise ValidationFailed("limit must be at least 1", {"field": "limit"})


def check_run_key(run: Run) -> None:
    """What ``create_run`` and ``update_run`` refuse whatever the store: an idempotency
    key without the scope it is unique in (``seqd.model.scopes``)."""
    if run.idempotency_key is not None and not run.idempotency_scope:
        raise ValidationFailed(
            "an idempotency key needs its scope (idempotency_scope)",
            {"field": "idempotency_scope", "id": run.id},
        )


def page_of(runs: list[Run], limit: int) -> RunPage:
    """The page for up to ``limit + 1`` runs fetched newest first (the one more tells
    whether another page exists)."""
    if len(runs) > limit:
        del runs[limit:]
        return RunPage(runs=runs, next_cursor=runs[-1].id)
    return RunPage(runs=runs, next_cursor=None)


def prefix_bounds(prefix: str) -> tuple[str, str]:
    """The ids starting with ``prefix`` are those ``>= low`` and ``< high``: a range
    scan on the primary key (ids compare as bytes / code points in every store)."""
    if not prefix:
        raise ValidationFailed("an id prefix cannot be empty", {"field": "prefix"})
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


# -- journal entries ----------------------------------------------------------------------


def number_steps(last_seq: int, steps: Sequence[NewStep]) -> list[Step]:
    """Journal entries numbered after ``last_seq``, as a backend stores them."""
    return [
        Step(
            seq=last_seq + i,
            ts=s.ts,
            kind=s.kind,
            key=s.key,
            name=s.name,
            status=s.status,
            data=s.data,
        )
        for i, s in enumerate(steps, 1)
    ]


def unnumbered(step: NewStep) -> NewStep:
    """``step`` as a plain ``NewStep``, for backends that store an entry apart from its
    seq. A ``Step`` is a ``NewStep`` too (an import appends what it read elsewhere);
    encoded as it is, it would carry its old seq next to the new one."""
    if type(step) is NewStep:
        return step
    return NewStep(**{name: getattr(step, name) for name in _NEW_STEP_FIELDS})


# -- key-value entries --------------------------------------------------------------------


def new_kv_entry(namespace: str, key: str, value: Any) -> tuple[KVEntry, str]:
    """What ``kv_set`` stores: the entry, stamped now, and its value as JSON text.
    Refuses a bad name or a value that is not JSON before anything is written."""
    check_kv_name(namespace, key)
    text = _ENCODER.encode(value).decode()
    return KVEntry(namespace=namespace, key=key, value=value, updated_at=now()), text


def kv_start(prefix: str, after: str | None) -> tuple[str, bool]:
    """Where a ``kv_list`` scan begins: (bound, inclusive). Keys come back in code point
    order, so the scan stops at the first key that does not start with ``prefix``."""
    if after is not None and after >= prefix:
        return after, False
    return prefix, True


def kv_page(entries: list[KVEntry], prefix: str) -> list[KVEntry]:
    """The leading entries of a sorted scan whose keys start with ``prefix``."""
    for index, entry in enumerate(entries):
        if not entry.key.startswith(prefix):
            return entries[:index]
    return entries


def kv_select(entries: list[KVEntry], prefix: str, after: str | None, limit: int) -> list[KVEntry]:
    """``kv_list`` over a whole namespace's entries sorted by key, for a store that
    reads them all (a store that can scan from a key uses ``kv_start`` and ``kv_page``)."""
    start, inclusive = kv_start(prefix, after)
    kept = [e for e in entries if e.key > start or (inclusive and e.key == start)]
    return kv_page(kept[:limit], prefix)


# -- schedules ----------------------------------------------------------------------------

SCHEDULE_DECODER = msgspec.json.Decoder(Schedule)


def schedule_text(schedule: Schedule) -> str:
    """What ``save_schedule`` stores: the whole record as JSON text, once its name is
    checked (the file store hashes it into a file name; SQL stores cannot hold NUL)."""
    check_schedule_name(schedule.name)
    return _ENCODER.encode(schedule).decode()


def check_schedule_name(name: str) -> None:
    check_name("name", name, MAX_SCHEDULE_NAME)
