"""Strict JSON with the standard library's C accelerator, ``_json``, and nothing else.

``json`` is a thin layer over ``_json``, but importing it imports ``re`` — and with it
``enum``, ``functools``, ``collections`` — for pure-Python fallbacks and a whitespace
regex: most of what ``seqctl status`` cost over a bare interpreter. The plain client
codec and seqctl (``-i``/``--input``, ``--json`` output) need only the C scanner and
encoder, driven here the way ``json.loads`` and ``json.dumps`` drive them, with seqd's
rule: ``NaN`` and ``Infinity`` are not JSON (the daemon refuses them too), either way.

Malformed text raises ``json.JSONDecodeError`` with ``json.loads``'s message and
position; only that path imports ``json``. ``loads`` takes text: bytes are the
caller's to decode (seqd's wire is UTF-8, where ``json.loads`` would also guess
UTF-16 or UTF-32).
"""

from __future__ import annotations

import _json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

SPACE = " \t\n\r"
"""JSON's whitespace, the only characters allowed around the value."""


def refuse_constant(name: str) -> Any:
    """The scanner's ``parse_constant``: ``NaN``, ``Infinity`` and ``-Infinity``."""
    raise ValueError(f"{name} is not JSON")


class Decoder:
    """``loads`` for one ``object_hook`` (what JSON objects become), with its C scanner
    built once. The scanner reads its settings off this object, as off a
    ``json.JSONDecoder``."""

    strict = True  # no raw control characters inside strings
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(refuse_constant)

    def __init__(self, object_hook: Callable[[dict[str, Any]], Any] | None = None) -> None:
        self.object_hook = object_hook
        self._scan = _json.make_scanner(self)  # type: ignore[arg-type]  # duck-typed context

    def loads(self, text: str) -> Any:
        """The value ``text`` holds, as ``json.loads(text, object_hook=...)`` with
        constants refused. Raises ValueError (``json.JSONDecodeError`` for syntax),
        or RecursionError when nested too deeply."""
        if text.startswith("\ufeff"):
            raise _error("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        start = _skip_space(text, 0)
        try:
            try:
                value, end = self._scan(text, start)
            except SystemError:
                # Python 3.11's scanner raises json.decoder.JSONDecodeError only if that
                # module is loaded already (it looks in sys.modules, and fails with
                # SystemError otherwise): load it, and scan again for the real error.
                import json.decoder  # noqa: F401

                value, end = self._scan(text, start)
        except StopIteration as stop:
            raise _error("Expecting value", text, stop.value) from None
        end = _skip_space(text, end)
        if end != len(text):
            raise _error("Extra data", text, end)
        return value


def _skip_space(text: str, index: int) -> int:
    """The index of the first non-whitespace character from ``index`` on (no copy
    when there is no whitespace to skip at the start)."""
    return len(text) - len(text[index:].lstrip(SPACE))


def _error(message: str, text: str, index: int) -> ValueError:
    from json import JSONDecodeError

    return JSONDecodeError(message, text, index)


loads = Decoder().loads
"""Strict ``json.loads``: JSON objects become dicts."""


def dumps(value: Any, default: Callable[[Any], Any] | None = None) -> str:
    """Compact JSON, non-ASCII kept: ``json.dumps(value, ensure_ascii=False,
    separators=(",", ":"), allow_nan=False, default=default)``. ``default`` turns
    what JSON cannot hold into something it can (the default raises TypeError)."""
    encode = _json.make_encoder(
        {},  # ids of the containers being encoded: a cycle is a ValueError
        default or _unserializable,
        _json.encode_basestring,
        None,  # no indentation
        ":",
        ",",
        False,  # sort_keys
        False,  # skipkeys
        False,  # allow_nan
    )
    return "".join(encode(value, 0))


quote = _json.encode_basestring
"""A string as a JSON string, non-ASCII kept."""


def _unserializable(value: object) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
