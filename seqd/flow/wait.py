"""How long a wait state waits: ``seconds``, a number at ``seconds_path``, or ``until``
a time (literal, or at a path).

Its own module because it is a pure function of the state and the flow's data, with
its own validation errors; the driver sleeps the result on a recorded timer.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from seqd.flow.data import Data
from seqd.flow.graph import WaitState
from seqd.flow.outcome import StateFailed
from seqd.flow.paths import lookup, parse_path
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
            seconds = _epoch(when) - time.time()
        except (TypeError, ValueError, AttributeError):
            raise _invalid(name, "until", "until is not an RFC 3339 time") from None
    return max(0.0, seconds)


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _invalid(name: str, field: str, why: str) -> StateFailed:
    return StateFailed(
        RunError(
            type="validation",
            message=f"wait state {name!r}: {why}",
            details={"state": name, "field": field},
        )
    )
