"""What a trace may say about a tool call's params: a short rendering in which values
under keys that look like secrets are hidden, and so is any known secret's value.

Its own module because every place that echoes a caller's values into a trace or a
log goes through the same redaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import msgspec

SUMMARY_CHARS = 200
_SECRET = re.compile(r"(?i)(authorization|password|passwd|secret|token|api[_-]?key|cookie)")
_encoder = msgspec.json.Encoder()


def summarize(params: Any, mask: Callable[[str], str] | None = None) -> str:
    """A short, redacted rendering of params for traces: values under keys that look
    like secrets become ``"***"``, and ``mask`` (``Secrets.redact``) hides known secret
    values — before the text is cut at ``SUMMARY_CHARS``, so no part of one is left."""

    def redact(value: Any, depth: int = 0) -> Any:
        if depth > 8:
            return "…"
        if isinstance(value, dict):
            return {
                k: "***" if isinstance(k, str) and _SECRET.search(k) else redact(v, depth + 1)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [redact(v, depth + 1) for v in value[:20]]
        return value

    try:
        text = _encoder.encode(redact(msgspec.to_builtins(params))).decode()
    except (TypeError, msgspec.EncodeError):
        text = repr(params)
    if mask is not None:
        text = mask(text)
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"
