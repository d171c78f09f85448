"""Which lines may wait long, decided from the decoded request, never from raw text.

A connection answers its lines in order, except those that may wait long
(``runs.wait``, ``runs.cancel``, ``runs.prune``, ``tools.call``, ``runs.submit`` with
``"wait": true``): those are served beside the others. The decision must be the one
the dispatcher will act on: ``"runs\\u002ewait"`` is ``runs.wait``, and ``"wait": true``
somewhere inside a run's input is not a waiting submit. So the method name and the
top-level ``params.wait`` are decoded (msgspec skips everything else without building
it). A line that cannot contain a slow method spelled either way — no backslash, none
of the names — is not decoded at all, which keeps ``daemon.ping`` cheap.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from seqd.rpc.protocol import METHODS

WAITING_METHODS = frozenset({"runs.submit"})
"""Slow only when their params say ``"wait": true``."""
SLOW_METHODS = frozenset(
    name for name, spec in METHODS.items() if spec.slow and name not in WAITING_METHODS
)
"""Slow whatever their params (``MethodSpec.slow``)."""
_MAYBE = re.compile(
    b"|".join(
        re.escape(hint)
        for hint in [b"\\", *sorted(n.encode() for n in SLOW_METHODS | WAITING_METHODS)]
    )
)
"""A line without any of these (a backslash, a slow method's name) cannot name a slow
method: one pass in C, where decoding would cost several times as much."""


class _Params(msgspec.Struct):
    wait: Any = None


class _Peek(msgspec.Struct):
    method: Any = None
    params: msgspec.Raw = msgspec.Raw()


_peek = msgspec.json.Decoder(_Peek)
_batch = msgspec.json.Decoder(list[msgspec.Raw])
_params = msgspec.json.Decoder(_Params)


def _slow(raw: bytes) -> bool:
    try:
        request = _peek.decode(raw)
        method = request.method
        if not isinstance(method, str):
            return False
        if method in SLOW_METHODS:
            return True
        return method in WAITING_METHODS and _params.decode(request.params).wait is True
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return False


def is_slow(line: bytes) -> bool:
    """Whether ``line`` (one request or a batch) holds a request that may wait long.
    A line that does not decode is not slow: the dispatcher answers it at once."""
    if _MAYBE.search(line) is None:
        return False
    if line.lstrip()[:1] != b"[":
        return _slow(line)
    try:
        items = _batch.decode(line)
    except (msgspec.DecodeError, RecursionError):
        return False
    return any(_slow(bytes(item)) for item in items)
