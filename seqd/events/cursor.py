"""Cursors: where a subscription stands, as an opaque string a client hands back.

Its own module because a cursor is the contract between a subscription and its replay:
what it records must be enough to resume exactly, from storage, after a restart. It
records the run change position up to which runs were handled, the last log line and
journal entry delivered of each run still open in the subscription's scope, and the
sequence reached on each in-memory topic with the daemon instance (``epoch``) that
numbered it.

A run's entry is dropped once the run has ended and all its lines were delivered: a run
absent from the cursor whose last write is at or before ``runs`` is then known to be
done, so a cursor stays small however large a tree grows. Format: ``c1.`` and the
state as base64url msgpack; ``"0"`` is the cursor before everything.
"""

from __future__ import annotations

import base64
import binascii

import msgspec

from seqd.errors import InvalidParams

PREFIX = "c1."
START = "0"
"""The cursor before everything: ``since`` it replays all that storage holds."""


class CursorState(msgspec.Struct, array_like=True, omit_defaults=True):
    runs: int = 0
    """Run changes up to this position have been handled."""
    logs: dict[str, int] = {}
    """Run id → last log seq delivered, for runs not yet known to be done."""
    steps: dict[str, int] = {}
    """Run id → last journal seq delivered, likewise."""
    topics: dict[str, int] = {}
    """In-memory topic → last sequence delivered, numbered by ``epoch``."""
    epoch: str = ""


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(CursorState)


def encode(state: CursorState) -> str:
    return PREFIX + base64.urlsafe_b64encode(_encoder.encode(state)).rstrip(b"=").decode()


def decode(text: str) -> CursorState:
    """The state of a cursor from an event; ``InvalidParams`` (field ``since``) if it is
    not one."""
    if text == START:
        return CursorState()
    if text.startswith(PREFIX):
        raw = text[len(PREFIX) :]
        try:
            state = _decoder.decode(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        except (binascii.Error, ValueError, msgspec.DecodeError):
            pass
        else:
            if _sane(state):
                return state
    raise InvalidParams(
        'since: not a cursor (pass the cursor of an event, or "0" for the beginning)',
        {"field": "since", "reason": "not a cursor"},
    )


def _sane(state: CursorState) -> bool:
    numbers = [state.runs, *state.logs.values(), *state.steps.values(), *state.topics.values()]
    return all(n >= 0 for n in numbers)


def copy(state: CursorState) -> CursorState:
    """A copy that later changes to ``state`` do not touch."""
    return CursorState(
        state.runs, dict(state.logs), dict(state.steps), dict(state.topics), state.epoch
    )
