"""Conditions: every operator and combinator, missing paths, kinds, regex caps, shape."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from seqd.flow.conditions import (
    MAX_MATCH_VALUE,
    ConditionError,
    condition_problems,
    evaluate,
)
from seqd.flow.graph import Condition

DATA = {
    "input": {
        "n": 5,
        "f": 2.5,
        "zero": 0,
        "t": True,
        "s": "hello world",
        "when": "2030-01-01T00:00:00Z",
        "list": [1, "a", None, {"k": 1}],
        "obj": {"k": [1, 2]},
        "null": None,
        "two": 2.0,
    }
}


def cond(**raw: Any) -> Condition:
    return msgspec.convert(raw, Condition)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"path": "$.input.n", "equals": 5}, True),
        ({"path": "$.input.n", "equals": 5.0}, True),
        ({"path": "$.input.n", "equals": "5"}, False),
        ({"path": "$.input.t", "equals": 1}, False),
        ({"path": "$.input.t", "equals": True}, True),
        ({"path": "$.input.zero", "equals": False}, False),
        ({"path": "$.input.null", "equals": None}, True),
        ({"path": "$.input.obj", "equals": {"k": [1, 2]}}, True),
        ({"path": "$.input.obj", "equals": {"k": [1, True]}}, False),
        ({"path": "$.input.n", "not_equals": 4}, True),
        ({"path": "$.input.n", "not_equals": "5"}, True),
        ({"path": "$.input.n", "gt": 4}, True),
        ({"path": "$.input.n", "gt": 5}, False),
        ({"path": "$.input.n", "gte": 5}, True),
        ({"path": "$.input.f", "lt": 3}, True),
        ({"path": "$.input.f", "lte": 2.5}, True),
        ({"path": "$.input.n", "gt": "4"}, False),
        ({"path": "$.input.s", "gt": 1}, False),
        ({"path": "$.input.t", "gt": 0}, False),
        ({"path": "$.input.when", "lt": "2031-01-01T00:00:00Z"}, True),
        ({"path": "$.input.when", "gte": "2030-06-01T00:00:00Z"}, False),
        ({"path": "$.input.n", "in": [1, 5]}, True),
        ({"path": "$.input.t", "in": [1, 5]}, False),
        ({"path": "$.input.n", "in": []}, False),
        ({"path": "$.input.list", "contains": "a"}, True),
        ({"path": "$.input.list", "contains": {"k": 1}}, True),
        ({"path": "$.input.list", "contains": True}, False),
        ({"path": "$.input.s", "contains": "lo wo"}, True),
        ({"path": "$.input.s", "contains": 1}, False),
        ({"path": "$.input.n", "contains": 5}, False),
        ({"path": "$.input.s", "matches": "hello\\s+\\w+"}, True),
        ({"path": "$.input.s", "matches": "hello"}, False),
        ({"path": "$.input.n", "matches": "5"}, False),
        ({"path": "$.input.s", "matches": "("}, False),
        ({"path": "$.input.n", "exists": True}, True),
        ({"path": "$.input.null", "exists": True}, True),
        ({"path": "$.input.nope", "exists": True}, False),
        ({"path": "$.input.nope", "exists": False}, True),
        ({"path": "$.input.n", "exists": False}, False),
        ({"path": "$.input.nope", "equals": None}, False),
        ({"path": "$.input.nope", "not_equals": 1}, False),
        ({"path": "$.input.nope", "type": "null"}, False),
        ({"path": "$.input.n", "type": "integer"}, True),
        ({"path": "$.input.two", "type": "integer"}, True),
        ({"path": "$.input.f", "type": "integer"}, False),
        ({"path": "$.input.f", "type": "number"}, True),
        ({"path": "$.input.t", "type": "number"}, False),
        ({"path": "$.input.t", "type": "boolean"}, True),
        ({"path": "$.input.list", "type": "array"}, True),
        ({"path": "$.input.obj", "type": "object"}, True),
        ({"path": "$.input.null", "type": "null"}, True),
        ({"path": "$.input.s", "type": "string"}, True),
        ({"all": [{"path": "$.input.n", "gt": 1}, {"path": "$.input.n", "lt": 9}]}, True),
        ({"all": [{"path": "$.input.n", "gt": 1}, {"path": "$.input.n", "lt": 2}]}, False),
        ({"any": [{"path": "$.input.n", "gt": 9}, {"path": "$.input.s", "exists": True}]}, True),
        ({"any": [{"path": "$.input.n", "gt": 9}, {"path": "$.nope", "exists": True}]}, False),
        ({"not": {"path": "$.input.nope", "exists": True}}, True),
        ({"not": {"path": "$.input.nope", "equals": 1}}, True),
        ({"not": {"not": {"path": "$.input.n", "equals": 5}}}, True),
        ({"path": "$.bad..path", "exists": False}, False),
        ({}, False),
    ],
)
def test_evaluate(raw: dict[str, Any], expected: bool) -> None:
    assert evaluate(cond(**raw), DATA) is expected


def test_matches_caps_value_and_pattern() -> None:
    long = "a" * (MAX_MATCH_VALUE + 1)
    data = {"input": {"ok": "a" * MAX_MATCH_VALUE, "long": long}}
    assert evaluate(cond(path="$.input.ok", matches="a+"), data)
    assert not evaluate(cond(path="$.input.long", matches="a+"), data)
    assert not evaluate(cond(path="$.input.ok", matches="a*" * 101), data)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"path": "$.input.n", "gt": 1}, []),
        ({"all": [{"path": "$.a", "exists": True}]}, []),
        ({"path": "$.input.n"}, [("W", "exactly one operator")]),
        ({"path": "$.input.n", "gt": 1, "lt": 3}, [("W", "found 'gt' and 'lt'")]),
        (
            {"path": "$.a", "exists": True, "all": [{"path": "$.b", "exists": True}]},
            [("W", "cannot also have 'all'")],
        ),
        ({"equals": 1}, [("W", "'equals' needs a 'path'")]),
        ({}, [("W", "found neither")]),
        (
            {"all": [{"path": "$.a", "exists": True}], "not": {"path": "$.a", "exists": True}},
            [("W", "found 'all' and 'not'")],
        ),
        ({"any": []}, [("W.any", "at least one condition")]),
        ({"path": "$.a..b", "exists": True}, [("W.path", "bad path")]),
        ({"path": "$.a", "matches": "(unclosed"}, [("W.matches", "not a valid pattern")]),
        ({"path": "$.a", "matches": "x" * 201}, [("W.matches", "at most 200")]),
        (
            {"all": [{"path": "$.a", "exists": True}, {"not": {"path": "$.b"}}]},
            [("W.all[1].not", "exactly one operator")],
        ),
    ],
)
def test_condition_problems(raw: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    problems = condition_problems(cond(**raw), "W")
    assert len(problems) == len(expected), problems
    for problem, (where, fragment) in zip(problems, expected, strict=True):
        assert problem.where == where
        assert fragment in problem.message


def test_deep_nesting_is_reported_not_a_crash() -> None:
    raw: dict[str, Any] = {"path": "$.a", "exists": True}
    for _ in range(40):
        raw = {"not": raw}
    c = cond(**raw)
    with pytest.raises(ConditionError, match="deeper than 32"):
        evaluate(c, {})
    assert any("nest deeper" in p.message for p in condition_problems(c, "W"))
