"""Opening a backend: its ``[backends.<name>]`` table, its durability, its paths.

Its own module because every factory does these checks before anything is opened, the
same way, so that a bad option is reported alike whichever backend it is for: the error
names the offending field as ``backends.<name>.<field>``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from seqd.errors import ValidationFailed
from seqd.plugins.storage import StorageContext

S = TypeVar("S", bound=msgspec.Struct)

DURABILITIES = ("normal", "full")
"""``normal``: survive a process crash; ``full``: also a power loss."""

_AT_FIELD = re.compile(r"at `\$\.([^`]+)`")
_NAMED_FIELD = re.compile(r"field `([^`]+)`")


def option_error(section: str, field: str, message: str) -> ValidationFailed:
    """The error for a bad option ``field`` of ``section`` (``""``: the whole table)."""
    name = f"{section}.{field}" if field else section
    return ValidationFailed(f"{name}: {message}", {"field": name})


def convert_options(
    options: Mapping[str, Any],
    cls: type[S],
    section: str,
    quiet: Mapping[str, str] | None = None,
) -> S:
    """``options`` as a ``cls`` (a ``msgspec.Struct``, ``forbid_unknown_fields``); the
    error names the offending field. ``quiet`` gives the message to use for fields
    whose value must never be echoed (msgspec's message may quote it: a DSN)."""
    try:
        return msgspec.convert(dict(options), cls)
    except msgspec.ValidationError as exc:
        text = str(exc)
        found = _AT_FIELD.search(text) or _NAMED_FIELD.search(text)
        field = found.group(1) if found else ""
        if quiet and field in quiet:
            text = quiet[field]
        raise option_error(section, field, text) from None


def check_durability(durability: str) -> str:
    """``durability`` if it is one of ``DURABILITIES``."""
    if durability not in DURABILITIES:
        raise ValidationFailed(
            f"durability must be one of {list(DURABILITIES)}, not {durability!r}",
            {"field": "durability"},
        )
    return durability


def path_in_state_dir(context: StorageContext, option: str | None, default: str) -> str:
    """An absolute path for a backend's file option: ``~`` expanded, relative to the
    state dir, ``default`` when the option is not set."""
    value = os.path.expanduser(option) if option else default
    return os.path.abspath(os.path.join(os.path.expanduser(context.state_dir), value))
