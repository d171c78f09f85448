"""Refusals made before anything is stored: values nested too deep or too big (a run's
input and output, a signal's data). (Who may act on a run is ``seqd.access``'s.)

Its own module because accepting, signalling and concluding all apply the same rules,
and they hold no state.
"""

from __future__ import annotations

from typing import Any

import msgspec

from seqd.errors import ValidationFailed

_encoder = msgspec.json.Encoder()
MAX_NESTING = 64
"""Deepest nesting of lists/objects accepted in an input or output: deeper values can
exhaust the stack of whatever encodes them later (storage, clients)."""


def nesting(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (iteratively: any depth is safe)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        depth += 1
        if depth > deepest:
            deepest = depth
            if deepest > MAX_NESTING:
                return deepest
        stack.extend((child, depth) for child in children)
    return deepest


def check_size(what: str, value: Any, limit: int) -> int:
    """Refuse ``value`` (named ``what`` in the error) if it nests deeper than
    ``MAX_NESTING`` or encodes to more than ``limit`` bytes; return its encoded size."""
    depth = nesting(value)
    if depth > MAX_NESTING:
        raise ValidationFailed(
            f"{what} is nested {depth} levels deep; the limit is {MAX_NESTING}",
            {"field": what, "depth": depth, "limit": MAX_NESTING},
        )
    size = len(_encoder.encode(value))
    if size > limit:
        raise ValidationFailed(
            f"{what} is {size} bytes encoded; the limit is {limit}",
            {"field": what, "size": size, "limit": limit},
        )
    return size
