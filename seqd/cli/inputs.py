"""Turning ``seqctl run`` arguments into a run's input object.

``-i key=value`` gives a string, ``-i key:=<json>`` a JSON value (the httpie
convention); ``-i key=@path`` the text of a file and ``-i key:=@path`` a JSON file
(httpie's and curl's ``@``, so a value that starts with ``@`` is spelt as JSON:
``-i key:='"@x"'``). ``--input`` gives a whole JSON object inline, from ``@file`` or
from ``-`` (stdin). ``--input`` is applied first, then each ``-i`` in order, so ``-i``
overrides. Every mistake is a :class:`UsageError` (exit status 2), never a traceback.
"""

from __future__ import annotations

import sys

from seqd.rpc import strictjson

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import IO, Any


class UsageError(Exception):
    """The command line is wrong; the message says how."""


def parse_item(item: str, flag: str = "-i") -> tuple[str, Any]:
    """``key=value`` → (key, "value"); ``key:=json`` → (key, decoded json); with
    ``@path`` as the value, the file's text, or the file decoded as JSON."""
    eq = item.find("=")
    if eq <= 0 or (eq == 1 and item[0] == ":"):
        raise UsageError(
            f"{flag} {item!r}: expected KEY=VALUE (a string), KEY:=JSON, KEY=@FILE (the "
            "file's text) or KEY:=@FILE (a JSON file)"
        )
    as_json = item[eq - 1] == ":"
    key, raw = item[: eq - 1 if as_json else eq], item[eq + 1 :]
    origin = f"the value after {':=' if as_json else '='}"
    if raw.startswith("@"):
        raw, origin = read_file(raw[1:], f"{flag} {key}"), raw[1:]
    if not as_json:
        return key, raw
    try:
        return key, decode_json(raw)
    except ValueError as exc:
        raise UsageError(f"{flag} {item!r}: {origin} is not JSON ({exc})") from None


def read_file(path: str, what: str) -> str:
    """The text of the file at ``path`` (UTF-8); a UsageError naming ``what`` if it
    cannot be read."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as exc:
        if isinstance(exc, UnicodeDecodeError):
            reason = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
        else:
            reason = exc.strerror or str(exc)
        raise UsageError(f"{what}: cannot read {path}: {reason}") from None


def read_input(spec: str, stdin: IO[str] | None = None, flag: str = "--input") -> dict[str, Any]:
    """``--input``: inline JSON, ``@path`` to a JSON file, or ``-`` for stdin."""
    if spec == "-":
        text, origin = (stdin or sys.stdin).read(), "stdin"
    elif spec.startswith("@"):
        text, origin = read_file(spec[1:], flag), spec[1:]
    else:
        text, origin = spec, flag
    return json_object(text, origin, flag)


def json_object(text: str, origin: str, flag: str) -> dict[str, Any]:
    """``text`` (from ``origin``, given with ``flag``) as a JSON object, or a usage error
    saying which it is not."""
    try:
        value = decode_json(text)
    except ValueError as exc:
        raise UsageError(f"{flag}: {origin} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise UsageError(f"{flag}: {origin} must hold a JSON object, not {_kind(value)}")
    return value


def decode_json(text: str) -> Any:
    """Strict JSON: ``NaN`` and ``Infinity``, which ``json`` accepts by default and the
    daemon refuses, are errors here (ValueError, like any other mistake)."""
    try:
        return strictjson.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def build_input(
    input_spec: str | None,
    items: Iterable[str],
    stdin: IO[str] | None = None,
    flags: tuple[str, str] = ("--input", "-i"),
) -> dict[str, Any]:
    """The run's input: ``--input`` first, then each ``-i`` item overriding keys
    (``flags`` names the two options in messages: ``tools call`` uses ``--params``/``-p``)."""
    result = read_input(input_spec, stdin, flags[0]) if input_spec is not None else {}
    for item in items:
        key, value = parse_item(item, flags[1])
        result[key] = value
    return result


_KINDS = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}


def _kind(value: Any) -> str:
    return "null" if value is None else _KINDS.get(type(value), type(value).__name__)
