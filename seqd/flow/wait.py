"""How long a wait state waits: ``seconds``, a number at ``seconds_path``, or ``until``
a time (literal, or at a path). A time read from the flow's data is held to the same
RFC 3339 rule the analyzer applies to a literal one: with an offset, never the daemon's
local time by accident.

Its own module because it is a pure function of the state and the flow's data, with
its own validation errors; the driver sleeps the result on a recorded timer.
"""

from __future__ import annotations

import time
from typing import Any

from seqd.flow.data import Data
from seqd.flow.graph import WaitState
from seqd.flow.outcome import StateFailed
from seqd.flow.paths import lookup, parse_path
from seqd.model.rfc3339 import parse_rfc3339
from seqd.model.runs import RunError


def wait_seconds(name: str, state: WaitState, data: Data) -> float:
    """Seconds from now to wait (0 for a time already past); a value that is not a
    number of seconds or a time fails the state."""
    if state.seconds is not None:
        seconds = state.seconds
    elif state.seconds_path is not None:
        value = lookup(parse_path(state.seconds_path), data)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise _invalid(name, "seconds_path", f"{state.seconds_path} is not a number of seconds")
        seconds = float(value)
    else:
        assert state.until is not None
        when: Any = state.until
        if when.startswith("$"):
            when = lookup(parse_path(when), data)
        try:
            seconds = parse_rfc3339(when) - time.time()
        except ValueError as exc:
            raise _invalid(name, "until", f"until is {exc}") from None
    return max(0.0, seconds)


def _invalid(name: str, field: str, why: str) -> StateFailed:
    return StateFailed(
        RunError(
            type="validation",
            message=f"wait state {name!r}: {why}",
            details={"state": name, "field": field},
        )
    )
