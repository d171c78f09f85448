"""What a state's work came to (``Outcome``) and the typed failure that ends a state.

Its own module because every part of the executor speaks these: the driver routes a
failed outcome to ``catch``/``fallback``, the acting states retry it, the fan-out joins
outcomes, the journal stores and reads them back, compensation records them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from seqd.model.runs import RunError


class StateFailed(Exception):
    """A state (or the flow) failed with a typed error."""

    def __init__(self, error: RunError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass
class Outcome:
    ok: bool
    output: Any = None
    error: RunError | None = None
    child_id: str | None = None


def matches(types: list[str], error: RunError) -> bool:
    """Whether a ``retry``/``catch`` list of error types takes ``error``: ``*`` is any
    error but ``cancelled``."""
    if error.type in types:
        return True
    return "*" in types and error.type != "cancelled"


def plain(error: RunError | None) -> dict[str, Any] | None:
    """An error as flow data (``$.error``, ``$.steps.<state>.error``) and journal data."""
    if error is None:
        return None
    return {"type": error.type, "message": error.message, "details": error.details}


def result_entry(ok: bool, output: Any, error: RunError | None) -> dict[str, Any]:
    """A result as flow data sees it: ``$.steps.<state>`` and an ``all_settled`` item."""
    return {"status": "succeeded" if ok else "failed", "output": output, "error": plain(error)}


def failed(type: str, message: str, details: dict[str, Any] | None = None) -> Outcome:
    """A failed outcome with a typed error."""
    return Outcome(
        False,
        error=RunError(type=type, message=message, details={} if details is None else details),
    )
