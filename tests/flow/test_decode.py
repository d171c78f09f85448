"""load_graph: strict decoding with every problem at its full location."""

from __future__ import annotations

import json
from typing import Any

import pytest

from seqd.flow.analyze import load_graph
from seqd.flow.graph import MapState, ParallelState, TaskState


def problems_of(raw: Any) -> list[tuple[str, str]]:
    text = raw if isinstance(raw, str) else json.dumps(raw)
    graph, problems = load_graph(text)
    assert (graph is None) == bool(problems)
    return [(p.where, p.message) for p in problems]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("{", [("graph.json", "not valid JSON: Expecting property name")]),
        ('{"start": NaN}', [("graph.json", "not valid JSON: NaN is not JSON")]),
        ("[1]", [("graph.json", "must be a JSON object")]),
        ("[" * 100_000, [("graph.json", "not valid JSON")]),
        ({"states": {}}, [("graph.json", "missing required field 'start'")]),
        (
            {"start": "a", "states": {}, "strat": 1},
            [("graph.json", "unknown field 'strat'; did you mean 'start'?")],
        ),
        (
            {"start": "a", "states": {}, "max_state_entries": "many"},
            [("graph.json: max_state_entries", "expected an integer, got a string")],
        ),
        (
            {"start": "a", "states": []},
            [("graph.json: states", "expected an object, got a list")],
        ),
        (
            {"start": "a", "states": {"a": 1}},
            [("graph.json: states.a", "a state must be an object")],
        ),
        (
            {"start": "a", "states": {"a": {"task": "x"}}},
            [("graph.json: states.a", "missing 'type' (one of task, tool, parallel")],
        ),
        (
            {"start": "a", "states": {"a": {"type": "tsk"}}},
            [("graph.json: states.a.type", "unknown state type 'tsk'; did you mean 'task'?")],
        ),
        (
            {"start": "a", "states": {"a": {"type": "task", "task": "x", "retyr": {}}}},
            [("graph.json: states.a", "unknown field 'retyr'; did you mean 'retry'?")],
        ),
        (
            {"start": "a", "states": {"a": {"type": "task", "task": "x", "retry": {"factr": 2}}}},
            [("graph.json: states.a.retry", "unknown field 'factr'; did you mean 'factor'?")],
        ),
        (
            {"start": "a", "states": {"a": {"type": "task", "task": "x", "timeout_s": "5"}}},
            [("graph.json: states.a.timeout_s", "expected a number or null, got a string")],
        ),
        (
            {"start": "a", "states": {"a": {"type": "task"}}},
            [("graph.json: states.a", "missing required field 'task'")],
        ),
        (
            {
                "start": "a",
                "states": {
                    "a": {
                        "type": "choice",
                        "choices": [{"when": {"path": "$.x", "type": "strin"}, "next": "b"}],
                    }
                },
            },
            [("graph.json: states.a.choices[0].when.type", "invalid value 'strin' (one of")],
        ),
        (
            {
                "start": "a",
                "states": {
                    "a": {
                        "type": "choice",
                        "choices": [{"when": {"path": "$.x", "gt": True}, "next": "b"}],
                    }
                },
            },
            [("graph.json: states.a.choices[0].when.gt", "expected a number or a string")],
        ),
        (
            {
                "start": "p",
                "states": {
                    "p": {
                        "type": "parallel",
                        "end": True,
                        "join": "some",
                        "branches": [
                            {"start": "x", "states": {"x": {"type": "task", "task": 5}}},
                            {"start": "y", "states": {"y": {"type": "wait", "sec": 1}}},
                        ],
                    },
                    "m": {
                        "type": "map",
                        "items": "$.input.xs",
                        "iterator": {
                            "start": "i",
                            "states": {"i": {"type": "succeed", "output": 1, "end": True}},
                        },
                    },
                },
            },
            [
                (
                    "graph.json: states.p.join",
                    "invalid value 'some' (one of 'all', 'all_settled', 'any')",
                ),
                ("graph.json: states.p.branches[0].states.x.task", "expected a string, got"),
                ("graph.json: states.p.branches[1].states.y", "unknown field 'sec'"),
                ("graph.json: states.m.iterator.states.i", "unknown field 'end'"),
            ],
        ),
        (
            '{"start": "a", "states": {"a": {"type": "succeed"}, "a": {"type": "fail"}}}',
            [("graph.json", "the key 'a' appears twice in one object")],
        ),
    ],
)
def test_problems_are_located(raw: Any, expected: list[tuple[str, str]]) -> None:
    found = problems_of(raw)
    assert len(found) == len(expected), found
    for (where, message), (want_where, fragment) in zip(found, expected, strict=True):
        assert where == want_where
        assert fragment in message, message


def test_nested_states_are_decoded_into_their_branches() -> None:
    raw = {
        "$schema": "../flow.schema.json",
        "start": "p",
        "states": {
            "p": {
                "type": "parallel",
                "next": "m",
                "branches": [{"start": "x", "states": {"x": {"type": "task", "task": "t"}}}],
            },
            "m": {
                "type": "map",
                "items": "$.input.xs",
                "end": True,
                "iterator": {"start": "i", "states": {"i": {"type": "task", "task": "u"}}},
            },
        },
    }
    graph, problems = load_graph(json.dumps(raw))
    assert problems == [] and graph is not None
    assert graph.schema_ == "../flow.schema.json"
    p, m = graph.states["p"], graph.states["m"]
    assert isinstance(p, ParallelState) and isinstance(m, MapState)
    assert isinstance(p.branches[0].states["x"], TaskState)
    assert m.iterator is not None and isinstance(m.iterator.states["i"], TaskState)
    assert m.iterator.states["i"].task == "u"  # type: ignore[union-attr]
