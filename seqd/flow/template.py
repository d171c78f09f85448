"""Templates: JSON values in which paths are replaced by the data they point at.

- a string that starts with ``$`` is a whole path: it becomes the value there (any JSON
  kind, not a string);
- a string with ``{{ $.path }}`` parts is interpolated: strings go in as they are, other
  values as compact JSON;
- ``{"$literal": v}`` is ``v`` verbatim (how to write a string that starts with ``$``);
- objects and lists are rendered member by member (keys are never templates);
- other values (numbers, booleans, null, strings without ``$`` or ``{{``) are themselves.

A missing path is an error naming the path and where it is in the template, never a
silent ``null``. Rendering is bounded: a budget on the size of what it produces is spent
as it goes, so a template cannot blow up (a value referenced twice, stored, referenced
twice again...) into something exponential, and nesting is capped.
"""

from __future__ import annotations

import functools
from typing import Any, Final

import msgspec

from seqd.flow.paths import MISSING, Path, PathError, format_segments, lookup, parse_path

LITERAL: Final = "$literal"
OPEN, CLOSE = "{{", "}}"
MAX_DEPTH: Final = 64
"""How deep a template itself may nest (values it pulls in are measured, not walked)."""
MAX_RENDER_BYTES: Final = 16 * 1024 * 1024
"""Roughly how many bytes of JSON one render may produce (the protocol's line limit)."""


class TemplateError(ValueError):
    """A template that cannot be rendered; ``location`` is where in the template."""

    def __init__(self, message: str, location: str) -> None:
        super().__init__(f"{location}: {message}" if location else message)
        self.message = message
        self.location = location


def child_location(location: str, key: str | int) -> str:
    """``input`` + ``items`` → ``input.items``; + 2 → ``input[2]``."""
    return f"{location}{format_segments((key,))}" if location else format_segments((key,))[1:]


def is_path_text(value: object) -> bool:
    """Whether a template string is a whole path (rather than text)."""
    return isinstance(value, str) and value.startswith("$")


@functools.lru_cache(maxsize=2048)
def interpolation(text: str) -> tuple[str | Path, ...]:
    """Split ``"a {{ $.x }} b"`` into ``("a ", Path("$.x"), " b")``.

    Raises ``PathError`` with the position in ``text`` of an unclosed ``{{`` or a bad
    path. A string without ``{{`` is one literal part.
    """
    parts: list[str | Path] = []
    i = 0
    while True:
        j = text.find(OPEN, i)
        if j < 0:
            if i < len(text):
                parts.append(text[i:])
            return tuple(parts)
        if j > i:
            parts.append(text[i:j])
        k = text.find(CLOSE, j + 2)
        if k < 0:
            raise PathError("'{{' is not closed by '}}'", j)
        inner = text[j + 2 : k]
        stripped = inner.strip()
        offset = j + 2 + (len(inner) - len(inner.lstrip()))
        if not stripped:
            raise PathError("empty '{{ }}': write a path inside, as in '{{ $.input.name }}'", j)
        try:
            parts.append(parse_path(stripped))
        except PathError as exc:
            raise PathError(exc.message, offset + exc.position) from None
        i = k + 2


def render(template: Any, data: Any, *, location: str = "", budget: int = MAX_RENDER_BYTES) -> Any:
    """The value of ``template`` with every path replaced from ``data``.

    ``location`` prefixes the location in errors (``input``, ``output``...).
    """
    return _Renderer(data, budget).render(template, location, 0)


class _Renderer:
    __slots__ = ("budget", "data")

    def __init__(self, data: Any, budget: int) -> None:
        self.data = data
        self.budget = budget

    def spend(self, amount: int, location: str) -> None:
        self.budget -= amount
        if self.budget < 0:
            raise TemplateError(
                f"the rendered value would be larger than {MAX_RENDER_BYTES} bytes", location
            )

    def render(self, template: Any, location: str, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise TemplateError(f"the template nests deeper than {MAX_DEPTH} levels", location)
        if isinstance(template, str):
            return self.string(template, location)
        if isinstance(template, dict):
            if LITERAL in template:
                if len(template) != 1:
                    raise TemplateError(
                        f"an object with {LITERAL!r} must have no other key", location
                    )
                value = template[LITERAL]
                self.spend(_measure(value, self.budget, location), location)
                return value
            self.spend(2, location)
            out: dict[str, Any] = {}
            for key, member in template.items():
                self.spend(len(key) + 3, location)
                out[key] = self.render(member, child_location(location, key), depth + 1)
            return out
        if isinstance(template, list):
            self.spend(2, location)
            return [
                self.render(member, child_location(location, index), depth + 1)
                for index, member in enumerate(template)
            ]
        self.spend(8, location)
        return template

    def string(self, text: str, location: str) -> Any:
        if is_path_text(text):
            try:
                path = parse_path(text)
            except PathError as exc:
                raise TemplateError(f"bad path {text!r}: {exc}", location) from None
            value = lookup(path, self.data)
            if value is MISSING:
                raise TemplateError(f"{text} does not exist", location)
            self.spend(_measure(value, self.budget, location), location)
            return value
        if OPEN not in text:
            self.spend(len(text) + 2, location)
            return text
        try:
            parts = interpolation(text)
        except PathError as exc:
            raise TemplateError(f"bad template text {text!r}: {exc}", location) from None
        pieces: list[str] = []
        for part in parts:
            if isinstance(part, str):
                piece = part
            else:
                value = lookup(part, self.data)
                if value is MISSING:
                    raise TemplateError(f"{part.text} (in {text!r}) does not exist", location)
                if isinstance(value, str):
                    piece = value
                else:
                    # Measured before encoding, so a huge value fails before it is built.
                    _measure(value, self.budget, location)
                    piece = msgspec.json.encode(value).decode()
            self.spend(len(piece), location)
            pieces.append(piece)
        return "".join(pieces)


def _measure(value: Any, budget: int, location: str) -> int:
    """About how many bytes ``value`` is as JSON; stops (raising) once over ``budget``.

    Iterative and cut short by the budget, so its cost is bounded by the budget however
    the value is shared or nested.
    """
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item) + 2
        elif isinstance(item, dict):
            total += 2
            for key, member in item.items():
                total += len(key) + 3 if isinstance(key, str) else 8
                stack.append(member)
        elif isinstance(item, list | tuple):
            total += 2 + len(item)
            stack.extend(item)
        else:
            total += 8
        if total > budget:
            raise TemplateError(
                f"the rendered value would be larger than {MAX_RENDER_BYTES} bytes", location
            )
    return total


def template_paths(template: Any, location: str = "") -> list[tuple[str, Path | PathError]]:
    """Every path in ``template`` with its location, or the ``PathError`` of a bad one.

    For the analyzer: it checks each path's root and state name where it is used.
    A misused ``$literal`` or over-deep nesting is reported as a ``PathError`` too.
    """
    found: list[tuple[str, Path | PathError]] = []
    stack: list[tuple[Any, str, int]] = [(template, location, 0)]
    while stack:
        item, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            found.append((where, PathError(f"the template nests deeper than {MAX_DEPTH}", 0)))
        elif isinstance(item, str):
            found.extend((where, p) for p in string_paths(item))
        elif isinstance(item, dict):
            if LITERAL in item:
                if len(item) != 1:
                    msg = f"an object with {LITERAL!r} must have no other key"
                    found.append((where, PathError(msg, 0)))
                continue
            for key, member in reversed(item.items()):
                stack.append((member, child_location(where, key), depth + 1))
        elif isinstance(item, list):
            for index in range(len(item) - 1, -1, -1):
                stack.append((item[index], child_location(where, index), depth + 1))
    return found


def string_paths(text: str) -> list[Path | PathError]:
    """The paths of one template string (a whole path, or its ``{{ }}`` parts)."""
    if is_path_text(text):
        try:
            return [parse_path(text)]
        except PathError as exc:
            return [exc]
    return interpolation_paths(text)


def interpolation_paths(text: str) -> list[Path | PathError]:
    """The ``{{ }}`` paths of a text that is only ever interpolated (a fail message)."""
    if OPEN not in text:
        return []
    try:
        return [part for part in interpolation(text) if isinstance(part, Path)]
    except PathError as exc:
        return [exc]
