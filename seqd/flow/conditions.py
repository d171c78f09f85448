"""Conditions of choice states: tests on the flow's data, evaluated without ``eval``.

Semantics (the ``Condition`` docstring in ``graph.py`` is the contract):

- a path that does not exist makes every operator false, except ``exists: false``;
- ``equals`` / ``not_equals`` / ``in`` / ``contains`` use JSON equality: ``true`` is not
  ``1``, ``1`` equals ``1.0``, values of different kinds are simply unequal;
- ``gt``/``gte``/``lt``/``lte`` compare numbers with numbers and strings with strings
  (code-point order, which orders RFC 3339 UTC times); any other pairing is false;
- ``matches`` is ``re.fullmatch`` on a string value; the pattern is at most
  ``MAX_PATTERN`` characters and a value longer than ``MAX_MATCH_VALUE`` never matches;
- ``type`` is the JSON kind (``integer`` includes ``2.0``, as in JSON Schema).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, Final

from msgspec import UNSET

from seqd.flow.graph import Condition
from seqd.flow.paths import MISSING, Path, PathError, lookup, parse_path
from seqd.model.tasks import Problem

MAX_PATTERN: Final = 200
MAX_MATCH_VALUE: Final = 10_000
MAX_CONDITION_DEPTH: Final = 32

OPERATORS: Final = (
    "equals",
    "not_equals",
    "gt",
    "gte",
    "lt",
    "lte",
    "in_",
    "contains",
    "matches",
    "exists",
    "is_type",
)
COMBINATORS: Final = ("all", "any", "not_")
_WIRE = {"in_": "in", "is_type": "type", "not_": "not"}


def wire_name(attr: str) -> str:
    """The key as written in graph.json (``in_`` is ``in``...)."""
    return _WIRE.get(attr, attr)


class ConditionError(ValueError):
    """A condition that cannot be evaluated at all (the analyzer reports it first)."""


def evaluate(cond: Condition, data: Any) -> bool:
    """Whether ``cond`` holds for ``data`` (the flow's context object).

    Raises ``ConditionError`` only for a condition nested deeper than
    ``MAX_CONDITION_DEPTH`` (a plain false there would turn true under a ``not``).
    """
    return _evaluate(cond, data, 0)


def _evaluate(cond: Condition, data: Any, depth: int) -> bool:
    if depth > MAX_CONDITION_DEPTH:
        raise ConditionError(f"conditions nest deeper than {MAX_CONDITION_DEPTH} levels")
    if cond.path is None:
        if cond.all is not UNSET:
            return all(_evaluate(c, data, depth + 1) for c in cond.all)
        if cond.any is not UNSET:
            return any(_evaluate(c, data, depth + 1) for c in cond.any)
        if cond.not_ is not UNSET:
            return not _evaluate(cond.not_, data, depth + 1)
        return False
    try:
        path = parse_path(cond.path)
    except PathError:
        return False
    value = lookup(path, data)
    tested = False
    for attr in OPERATORS:
        operand = getattr(cond, attr)
        if operand is UNSET:
            continue
        tested = True
        if value is MISSING:
            if not (attr == "exists" and operand is False):
                return False
        elif not _TESTS[attr](value, operand):
            return False
    return tested


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "other"


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: kinds must agree (``True`` is not ``1``), containers deeply."""
    kind = _kind(a)
    if kind != _kind(b):
        return False
    if kind == "array":
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if kind == "object":
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def _ordered(value: Any, operand: Any, test: Callable[[Any, Any], bool]) -> bool:
    kind = _kind(value)
    if kind != _kind(operand) or kind not in ("number", "string"):
        return False
    return test(value, operand)


def _contains(value: Any, operand: Any) -> bool:
    if isinstance(value, list):
        return any(json_equal(item, operand) for item in value)
    if isinstance(value, str):
        return isinstance(operand, str) and operand in value
    return False


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> re.Pattern[str] | None:
    """The compiled pattern, or None when it is too long or not a valid expression."""
    if len(pattern) > MAX_PATTERN:
        return None
    try:
        return re.compile(pattern)
    except (re.error, RecursionError, OverflowError):
        return None


def _matches(value: Any, pattern: Any) -> bool:
    if not isinstance(value, str) or len(value) > MAX_MATCH_VALUE:
        return False
    compiled = compile_pattern(pattern)
    return compiled is not None and compiled.fullmatch(value) is not None


def is_json_type(value: Any, name: str) -> bool:
    """Whether ``value`` is of the JSON Schema type ``name``."""
    kind = _kind(value)
    if name == "integer":
        return kind == "number" and (isinstance(value, int) or float(value).is_integer())
    return kind == name


_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "equals": json_equal,
    "not_equals": lambda v, o: not json_equal(v, o),
    "gt": lambda v, o: _ordered(v, o, lambda a, b: a > b),
    "gte": lambda v, o: _ordered(v, o, lambda a, b: a >= b),
    "lt": lambda v, o: _ordered(v, o, lambda a, b: a < b),
    "lte": lambda v, o: _ordered(v, o, lambda a, b: a <= b),
    "in_": lambda v, o: any(json_equal(v, item) for item in o),
    "contains": _contains,
    "matches": _matches,
    "exists": lambda v, o: bool(o),
    "is_type": is_json_type,
}


def condition_problems(cond: Condition, where: str) -> list[Problem]:
    """What is wrong with the shape of ``cond`` (and the conditions inside it).

    ``where`` is the location of ``cond`` (``graph.json: states.route.choices[0].when``).
    """
    problems: list[Problem] = []
    stack: list[tuple[Condition, str, int]] = [(cond, where, 0)]
    while stack:
        c, at, depth = stack.pop()
        if depth > MAX_CONDITION_DEPTH:
            problems.append(
                Problem(where=at, message=f"conditions nest deeper than {MAX_CONDITION_DEPTH}")
            )
            continue
        ops = [a for a in OPERATORS if getattr(c, a) is not UNSET]
        combs = [a for a in COMBINATORS if getattr(c, a) is not UNSET]
        if c.path is not None:
            try:
                parse_path(c.path)
            except PathError as exc:
                problems.append(Problem(where=f"{at}.path", message=f"bad path: {exc}"))
            if combs:
                problems.append(
                    Problem(
                        where=at,
                        message=f"a condition with a path cannot also have "
                        f"{_listed(combs)}: put the path inside it",
                    )
                )
            if len(ops) != 1:
                problems.append(
                    Problem(
                        where=at,
                        message="a condition with a path needs exactly one operator "
                        f"({_listed(OPERATORS, 'or')}), found " + (_listed(ops) if ops else "none"),
                    )
                )
        else:
            if ops:
                problems.append(
                    Problem(
                        where=at,
                        message=f"{_listed(ops)} needs a 'path' saying what to test",
                    )
                )
            if len(combs) != 1 and not ops:
                problems.append(
                    Problem(
                        where=at,
                        message="a condition needs a 'path' and an operator, or exactly one "
                        "of 'all', 'any', 'not'; found " + (_listed(combs) if combs else "neither"),
                    )
                )
        if c.matches is not UNSET:
            if len(c.matches) > MAX_PATTERN:
                problems.append(
                    Problem(
                        where=f"{at}.matches",
                        message=f"the pattern has {len(c.matches)} characters; "
                        f"at most {MAX_PATTERN} are allowed",
                    )
                )
            else:
                try:
                    re.compile(c.matches)
                except (re.error, RecursionError, OverflowError) as exc:
                    problems.append(
                        Problem(where=f"{at}.matches", message=f"not a valid pattern: {exc}")
                    )
        for name in ("all", "any"):
            members = getattr(c, name)
            if members is UNSET:
                continue
            if not members:
                problems.append(
                    Problem(where=f"{at}.{name}", message=f"'{name}' needs at least one condition")
                )
            for index in range(len(members) - 1, -1, -1):
                stack.append((members[index], f"{at}.{name}[{index}]", depth + 1))
        if c.not_ is not UNSET:
            stack.append((c.not_, f"{at}.not", depth + 1))
    return problems


def condition_paths(cond: Condition, where: str) -> list[tuple[str, Path | PathError]]:
    """Every path of ``cond`` and the conditions inside it, with its location."""
    found: list[tuple[str, Path | PathError]] = []
    stack: list[tuple[Condition, str, int]] = [(cond, where, 0)]
    while stack:
        c, at, depth = stack.pop()
        if depth > MAX_CONDITION_DEPTH:
            continue
        if c.path is not None:
            try:
                found.append((f"{at}.path", parse_path(c.path)))
            except PathError as exc:
                found.append((f"{at}.path", exc))
        for name in ("all", "any"):
            members = getattr(c, name)
            if members is not UNSET:
                for index in range(len(members) - 1, -1, -1):
                    stack.append((members[index], f"{at}.{name}[{index}]", depth + 1))
        if c.not_ is not UNSET:
            stack.append((c.not_, f"{at}.not", depth + 1))
    return found


def _listed(attrs: tuple[str, ...] | list[str], last: str = "and") -> str:
    names = [f"'{wire_name(a)}'" for a in attrs]
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} {last} {names[-1]}"
