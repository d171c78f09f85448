"""Decoding a task's ``config.json`` field by field, so that every problem is told at
once: msgspec stops at the first wrong field of an object, and a user fixing a config
would otherwise meet its mistakes one reload at a time.

Its own module because the core fields (``type``, ``timeout_s``, ``retries``...) and a
task type's own (``command``, ``entry``...) are read the same way: each known field on
its own (its path and msgspec's reason), each unknown one with the known names close to
it (did you mean), each missing required one, and only when all of that is clean, the
object as a whole (for checks that span fields).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, TypeVar

import msgspec

from seqd.model.suggest import did_you_mean
from seqd.model.tasks import Problem

CONFIG_FILE = "config.json"
S = TypeVar("S", bound=msgspec.Struct)
_AT = " - at `$"


def problem(where: str, message: str) -> Problem:
    return Problem(where=where, message=message)


def decode_fields(
    raw: dict[str, Any],
    cls: type[S],
    *,
    others: Iterable[str] = (),
    check_unknown: bool = True,
) -> tuple[S | None, list[Problem], dict[str, Any]]:
    """``raw`` as ``cls``, every problem found on the way (the Struct is None when any
    is more than an unknown field), and the fields that are right, decoded (to go on
    with what is known).
    ``others`` are the names read elsewhere (suggested for a misspelt key, never
    reported as unknown); ``check_unknown`` is False when the caller sorts out the keys
    ``cls`` does not know."""
    fields = {f.encode_name: f for f in msgspec.structs.fields(cls)}
    forbid = bool(cls.__struct_config__.forbid_unknown_fields)
    others = set(others)
    unknown: list[Problem] = []
    problems: list[Problem] = []
    good: dict[str, Any] = {}
    for key, value in raw.items():
        field = fields.get(key)
        if field is None:
            if check_unknown and forbid and key not in others:
                hint = did_you_mean(key, [*fields, *others])
                unknown.append(problem(f"{CONFIG_FILE}: {key}", f"unknown field{hint}"))
            continue
        try:
            good[key] = msgspec.convert(value, field.type)
        except msgspec.ValidationError as exc:
            problems.append(_problem_at(key, exc))
    for name, field in fields.items():
        if field.required and name not in raw:
            problems.append(problem(f"{CONFIG_FILE}: {name}", "missing (required)"))
    if problems:
        return None, unknown + problems, good
    try:
        # Only unknown fields are wrong: the known ones still make a whole object,
        # so that what checks it (the task type) can say what else is wrong.
        return msgspec.convert(good, cls), unknown, good
    except msgspec.ValidationError as exc:  # a check across fields (__post_init__)
        return None, [*unknown, problem(f"{CONFIG_FILE}: {path_of(exc)}", reason_of(exc))], good


def _problem_at(key: str, exc: msgspec.ValidationError) -> Problem:
    text = str(exc)
    inner = text.rsplit(_AT, 1)[1].rstrip("`") if _AT in text else ""
    return problem(f"{CONFIG_FILE}: {key}{inner}", reason_of(exc))


def path_of(exc: msgspec.ValidationError) -> str:
    """Where in the object msgspec's error is (``retries.max``; ``config`` if unsaid)."""
    text = str(exc)
    if _AT in text:
        return text.rsplit(_AT, 1)[1].rstrip("`").lstrip(".")
    match = re.search(r"field `([^`]+)`", text)
    return match.group(1) if match else "config"


def reason_of(exc: msgspec.ValidationError) -> str:
    return str(exc).rsplit(_AT, 1)[0]
