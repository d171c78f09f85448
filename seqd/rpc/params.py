"""The base of every method's params and the field types several methods share.

Its own module so that the wire types of each area can live in a module of their own
(``status``, ``runs``, ``tools``, ``events``, ``schedules``, ``observing``,
``retention``) beside ``protocol``, which gathers every method in ``METHODS``. How a
value that does not fit is told (:func:`validation_details`) is here too: the
dispatcher, tool calls and clients that check params themselves (seqd-mcp) say it alike.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from seqd.model.tasks import TASK_NAME_PATTERN


class Params(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every method's params: strict, so a misspelt field is an error."""


Limit = Annotated[int, Meta(ge=1, le=1000)]
TaskName = Annotated[str, Meta(pattern=TASK_NAME_PATTERN, description="a task name")]
RunId = Annotated[str, Meta(pattern=r"^[0-9a-f]{8,64}$", description="a run id")]
RUN_REF_PATTERN = "^(?:[0-9a-f]{4,64}|last(?::" + TASK_NAME_PATTERN[1:-1] + ")?)$"
RunRef = Annotated[
    str,
    Meta(
        pattern=RUN_REF_PATTERN,
        description="a run: its id, a unique prefix of it (4 or more hex digits), `last` "
        "(the newest run without a parent) or `last:TASK` (the newest run of TASK)",
    ),
]
"""★ How a caller names a run: resolved by the daemon (``seqd.api.refs``); results
always carry the full id. A full id is always taken as exactly that run."""
IdempotencyKey = Annotated[str, Meta(min_length=1, max_length=256)]
Priority = Annotated[int, Meta(ge=-1000, le=1000)]
MAX_BATCH_RUNS = 10_000
"""Most inputs in one ``runs.submit_many`` (the line limit applies too)."""


TimeoutS = Annotated[float, Meta(ge=0, le=86400 * 7)]


class NoParams(Params, kw_only=True):
    pass


_FIELD_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_FIELD_NAMED = re.compile(r"field `(?P<name>[^`]+)`")


def validation_details(exc: msgspec.ValidationError) -> tuple[str, dict[str, Any]]:
    """Turn msgspec's message into (message, {field, reason}) with a dotted field path."""
    text = str(exc)
    reason, field = text, ""
    match = _FIELD_AT.search(text)
    if match:
        reason = text[: match.start()]
        field = match.group("path").lstrip(".")
    named = _FIELD_NAMED.search(reason)
    if named and ("missing required" in reason or "unknown field" in reason):
        field = f"{field}.{named.group('name')}" if field else named.group("name")
    message = f"{field}: {reason}" if field else reason
    return message, {"field": field or None, "reason": reason}
