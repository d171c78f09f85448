"""The flow analyzer: a table of bad graphs and the problems each must produce.

Every case lists all the problems it expects (location and a fragment of the message),
and nothing else may be reported, so a rule that fires too often fails as surely as
one that does not fire.
"""

from __future__ import annotations

import gc
import json
import time
from typing import Any

import pytest

from seqd.flow.analyze import TaskInfo, analyze, load_graph, referenced_tasks, referenced_tools
from seqd.flow.graph import Graph
from seqd.model.tasks import Problem

TYPED = {
    "type": "object",
    "properties": {
        "n": {"type": "integer"},
        "name": {"type": "string"},
        "opts": {"type": ["object", "null"]},
        "ratio": {"type": "number"},
    },
    "required": ["n"],
    "additionalProperties": False,
}
CATALOG = {
    "work": TaskInfo("python", True, None),
    "typed": TaskInfo("python", True, TYPED),
    "open": TaskInfo("python", True, {"type": "object", "required": ["a"]}),
    "broken": TaskInfo(None, False, None, problems=("config.json: type: unknown task type 'x'",)),
    "outer": TaskInfo("flow", True, None, frozenset({"inner"})),
    "inner": TaskInfo("flow", True, None, frozenset({"work", "me"})),
    "sibling": TaskInfo("flow", True, None, frozenset({"work"})),
}


def T(task: str = "work", **kw: Any) -> dict[str, Any]:
    """A task state (default: ends the flow)."""
    state: dict[str, Any] = {"type": "task", "task": task, **kw}
    if "next" not in kw and "end" not in kw:
        state["end"] = True
    return state


def g(states: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"start": next(iter(states)), "states": states, **top}


def branch(states: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {"start": next(iter(states)), "states": states, **kw}


OK = g({"a": T(next="b"), "b": {"type": "succeed"}})

CASES: list[tuple[str, dict[str, Any], list[tuple[str, str]]]] = [
    ("valid", OK, []),
    # -- names ---------------------------------------------------------------------
    (
        "bad state names",
        g({"a b": T(), "x" * 65: T(), "1st": T()}),
        [
            ('states["a b"]', "not a valid state name"),
            (f"states.{'x' * 65}", "not a valid state name"),
            ('states["1st"]', "not a valid state name"),
            ('states["1st"]', "never be reached"),
            (f"states.{'x' * 65}", "never be reached"),
        ],
    ),
    (
        "duplicate names across scopes",
        g({"p": {"type": "parallel", "end": True, "branches": [branch({"p": T()})]}}),
        [("states.p.branches[0].states.p", "also used at states.p")],
    ),
    # -- transitions -----------------------------------------------------------------
    (
        "start missing",
        {"start": "fetc", "states": {"fetch": T()}},
        [("start", "the start state 'fetc' does not exist; did you mean 'fetch'?")],
    ),
    (
        "branch starts outside itself",
        g(
            {
                "p": {
                    "type": "parallel",
                    "end": True,
                    "branches": [{"start": "p", "states": {"x": T()}}],
                }
            }
        ),
        [
            (
                "states.p.branches[0].start",
                "the start state 'p' is in the flow, not in branches[0]",
            ),
        ],
    ),
    (
        "next missing, with a suggestion",
        g({"load": T(next="stor"), "store": T()}),
        [
            (
                "states.load.next",
                "state 'load' goes to 'stor', which does not exist; did you mean 'store'?",
            ),
            ("states.store", "never be reached"),
        ],
    ),
    (
        "every kind of transition checked",
        g(
            {
                "a": T(next="b", catch=[{"errors": ["*"], "next": "nope1"}], on_timeout="nope2"),
                "b": {
                    "type": "choice",
                    "choices": [{"when": {"path": "$.input.x", "exists": True}, "next": "nope3"}],
                    "default": "nope4",
                },
            }
        ),
        [
            ("states.a.catch[0].next", "'nope1', which does not exist"),
            ("states.a.on_timeout", "'nope2', which does not exist"),
            ("states.b.choices[0].next", "'nope3', which does not exist"),
            ("states.b.default", "'nope4', which does not exist"),
        ],
    ),
    (
        "jump into a branch",
        g(
            {
                "a": T(next="inside"),
                "p": {"type": "parallel", "end": True, "branches": [branch({"inside": T()})]},
            }
        ),
        [
            ("states.a.next", "'inside', which is in branches[0] of parallel state 'p'"),
            ("states.p", "never be reached"),
        ],
    ),
    (
        "jump out of a branch",
        g(
            {
                "p": {
                    "type": "parallel",
                    "next": "after",
                    "branches": [branch({"x": T()}), branch({"y": T(next="after")})],
                },
                "after": T(),
            }
        ),
        [
            ("states.p.branches[1].states.y.next", "is in the flow, not in branches[1]"),
        ],
    ),
    # -- state shapes ----------------------------------------------------------------
    (
        "next and end",
        g({"a": T(next="b", end=True), "b": {"type": "task", "task": "work"}}),
        [
            ("states.a", "has both 'next' and 'end'"),
            ("states.b", "needs 'next'"),
        ],
    ),
    (
        "choice without choices",
        g({"c": {"type": "choice", "choices": [], "default": "d"}, "d": {"type": "succeed"}}),
        [("states.c.choices", "at least one choice")],
    ),
    (
        "map with task and iterator, and with neither",
        g(
            {
                "m1": {
                    "type": "map",
                    "items": "$.input.xs",
                    "task": "work",
                    "iterator": branch({"i1": T()}),
                    "next": "m2",
                },
                "m2": {"type": "map", "items": "$.input.xs", "next": "m3"},
                "m3": {
                    "type": "map",
                    "items": "$.input.xs",
                    "iterator": branch({"i3": T()}),
                    "input": {"x": 1},
                    "end": True,
                },
            }
        ),
        [
            ("states.m1", "exactly one of 'task' and 'iterator'"),
            ("states.m2", "exactly one of 'task' and 'iterator'"),
            ("states.m3.input", "only applies with 'task'"),
        ],
    ),
    (
        "parallel without branches",
        g({"p": {"type": "parallel", "branches": [], "end": True}}),
        [("states.p.branches", "at least one branch")],
    ),
    (
        "empty branch",
        g({"p": {"type": "parallel", "branches": [{"start": "x", "states": {}}], "end": True}}),
        [("states.p.branches[0].states", "branches[0] of parallel state 'p' has no states")],
    ),
    (
        "waits",
        g(
            {
                "w1": {"type": "wait", "next": "w2"},
                "w2": {"type": "wait", "seconds": 1, "until": "2030-01-01T00:00:00Z", "next": "w3"},
                "w3": {"type": "wait", "until": "tomorrow", "next": "w4"},
                "w4": {"type": "wait", "until": "2030-01-01T10:00:00", "next": "w5"},
                "w5": {"type": "wait", "until": "2030-02-30T10:00:00Z", "next": "w6"},
                "w6": {"type": "wait", "seconds": -1, "next": "w7"},
                "w7": {"type": "wait", "until": "$.input.when", "next": "w8"},
                "w8": {"type": "wait", "until": "2030-01-01T10:00:00.123456789+02:00", "end": True},
            }
        ),
        [
            ("states.w1.seconds", "exactly one of 'seconds', 'seconds_path' and 'until'"),
            ("states.w2.until", "(found: seconds, until)"),
            ("states.w3.until", "not an RFC 3339 time"),
            ("states.w4.until", "not an RFC 3339 time"),
            ("states.w5.until", "not a valid time"),
            ("states.w6.seconds", "must be 0 or more"),
        ],
    ),
    # -- reachability, finishing, loops ------------------------------------------------
    (
        "unreachable",
        g({"a": T(), "lost": T()}),
        [("states.lost", "state 'lost' can never be reached from the start state 'a'")],
    ),
    (
        "never finishes: a loop with no way out",
        g({"a": T(next="b"), "b": T(next="a")}),
        [
            ("start", "the flow can never finish"),
            ("states.a", "states a → b → a loop forever"),
        ],
    ),
    (
        "self loop",
        g({"a": T(next="a", catch=[{"errors": ["x"], "next": "a"}])}),
        [("start", "the flow can never finish"), ("states.a", "states a → a loop forever")],
    ),
    (
        "loop with a way out is fine",
        g(
            {
                "poll": T(next="check"),
                "check": {
                    "type": "choice",
                    "choices": [
                        {"when": {"path": "$.steps.poll.output", "equals": 1}, "next": "done"}
                    ],
                    "default": "pause",
                },
                "pause": {"type": "wait", "seconds": 5, "next": "poll"},
                "done": {"type": "succeed"},
            }
        ),
        [],
    ),
    (
        "loop beside a finish: the loop is still reported",
        g(
            {
                "a": {
                    "type": "choice",
                    "choices": [{"when": {"path": "$.input.x", "exists": True}, "next": "l1"}],
                    "default": "end",
                },
                "l1": T(next="l2"),
                "l2": T(next="l3"),
                "l3": T(next="l1", catch=[{"errors": ["*"], "next": "l2"}]),
                "end": {"type": "fail", "error": "nope"},
            }
        ),
        [("states.l1", "states l1 → l2 → l3 → l1 loop forever")],
    ),
    (
        "loop members off the shortest cycle are named",
        g(
            {
                "s": T(next="a"),
                "a": T(next="b"),
                "b": T(next="a", catch=[{"errors": ["*"], "next": "c"}]),
                "c": T(next="b"),
            }
        ),
        [("start", "can never finish"), ("states.a", "states a → b → a (with c) loop forever")],
    ),
    (
        "branch never joins",
        g(
            {
                "p": {
                    "type": "parallel",
                    "end": True,
                    "branches": [branch({"ok": T()}), branch({"x": T(next="y"), "y": T(next="x")})],
                }
            }
        ),
        [
            (
                "states.p.branches[1].start",
                "branches[1] of parallel state 'p' never finishes (no state reachable from 'x' "
                "ends it), so the parallel state never joins",
            ),
            ("states.p.branches[1].states.x", "states x → y → x loop forever"),
        ],
    ),
    (
        "iterator never joins",
        g(
            {
                "m": {
                    "type": "map",
                    "items": "$.input.xs",
                    "end": True,
                    "iterator": branch({"i": T(next="i")}),
                }
            }
        ),
        [
            (
                "states.m.iterator.start",
                "the iterator of map state 'm' never finishes (no state reachable from 'i' ends "
                "it), so the map state never joins",
            ),
            ("states.m.iterator.states.i", "loop forever"),
        ],
    ),
    (
        "a fail state finishes the flow",
        g({"a": T(next="f"), "f": {"type": "fail", "error": "bad"}}),
        [],
    ),
    # -- paths --------------------------------------------------------------------------
    (
        "path syntax",
        g({"a": T(input={"x": "$.input..x", "y": "n={{ $.input.n"})}),
        [
            (
                "states.a.input.x",
                "bad path: expected a name after '.' but found '.' (at position 8)",
            ),
            ("states.a.input.y", "'{{' is not closed"),
        ],
    ),
    (
        "unknown root",
        g({"a": T(input={"x": "$.inputs.x"})}),
        [("states.a.input.x", "unknown root 'inputs'; did you mean 'input'?")],
    ),
    (
        "roots only where they exist",
        g(
            {
                "a": T(
                    input={"i": "$.item", "r": "$.result", "e": "$.error.message"},
                    output={"r": "$.result.x", "e": "$.error"},
                    fallback={"e": "$.error.details", "r": "$.result"},
                    compensate={"task": "work", "input": {"r": "$.result", "i": "$.index"}},
                    next="m",
                ),
                "m": {
                    "type": "map",
                    "items": "$.item",
                    "task": "work",
                    "input": {"v": "$.item.v", "i": "$.index"},
                    "end": True,
                },
            }
        ),
        [
            ("states.a.input.i", "$.item exists only inside a map iteration"),
            ("states.a.input.r", "$.result exists only in a state's 'output'"),
            ("states.a.input.e", "$.error exists only in 'fallback'"),
            ("states.a.output.e", "$.error exists only in 'fallback'"),
            ("states.a.fallback.r", "$.result exists only in"),
            ("states.a.compensate.input.i", "$.index exists only inside a map iteration"),
            ("states.m.items", "$.item exists only inside a map iteration"),
        ],
    ),
    (
        "item inside an iterator, also in a nested branch",
        g(
            {
                "m": {
                    "type": "map",
                    "items": "$.input.xs",
                    "end": True,
                    "iterator": branch(
                        {
                            "p": {
                                "type": "parallel",
                                "end": True,
                                "branches": [
                                    branch({"deep": T(input={"x": "$.item", "i": "$.index"})})
                                ],
                            }
                        },
                        output="$.item",
                    ),
                }
            },
            output={"all": "$.steps.m.output", "bad": "$.item"},
        ),
        [("output.bad", "$.item exists only inside a map iteration")],
    ),
    (
        "steps: unknown, sibling branch, inner, outer, fields",
        g(
            {
                "first": T(next="p"),
                "p": {
                    "type": "parallel",
                    "next": "last",
                    "branches": [
                        branch({"b0": T(input={"o": "$.steps.first.output", "s": "$.steps.b1"})}),
                        branch({"b1": T(input={"own": "$.steps.b1.error.message"})}),
                    ],
                },
                "last": T(
                    input={
                        "inner": "$.steps.b0.output",
                        "typo": "$.steps.frist.output",
                        "field": "$.steps.first.outptu",
                        "idx": "$.steps[0]",
                        "whole": "$.steps",
                        "flow": "$.flow.run_id",
                        "badflow": "$.flow.id",
                    }
                ),
            }
        ),
        [
            (
                "states.p.branches[0].states.b0.input.s",
                "state 'b1' is in branches[1] of parallel state 'p', which is not visible here",
            ),
            ("states.last.input.inner", "state 'b0' is in branches[0] of parallel state 'p'"),
            ("states.last.input.typo", "there is no state 'frist'; did you mean 'first'?"),
            ("states.last.input.field", "not 'outptu'; did you mean 'output'?"),
            ("states.last.input.idx", "comes a state name, not an index"),
            ("states.last.input.badflow", "$.flow has only 'run_id', 'task', 'attempt'"),
        ],
    ),
    (
        "paths in conditions, fail messages, waits, outputs",
        g(
            {
                "c": {
                    "type": "choice",
                    "choices": [
                        {
                            "when": {
                                "all": [
                                    {"path": "$.nope", "exists": True},
                                    {"path": "$.x..", "gt": 1},
                                ]
                            },
                            "next": "w",
                        }
                    ],
                    "default": "f",
                },
                "w": {"type": "wait", "seconds_path": "$.steps.zz.output", "next": "s"},
                "s": {"type": "succeed", "output": "$.result"},
                "f": {"type": "fail", "message": "bad {{ $.item }} {{ $.input.x }}"},
            },
            output={"x": "{{ $.steps.c.output }} {{ $.error }}"},
        ),
        [
            ("states.c.choices[0].when.all[0].path", "unknown root 'nope'"),
            ("states.c.choices[0].when.all[1].path", "bad path"),
            ("states.w.seconds_path", "there is no state 'zz'"),
            ("states.s.output", "$.result exists only"),
            ("states.f.message", "$.item exists only"),
            ("output.x", "$.error exists only"),
        ],
    ),
    (
        "condition shapes",
        g(
            {
                "c": {
                    "type": "choice",
                    "choices": [
                        {"when": {"path": "$.input.x"}, "next": "d"},
                        {"when": {"path": "$.input.x", "matches": "(("}, "next": "d"},
                    ],
                    "default": "d",
                },
                "d": {"type": "succeed"},
            }
        ),
        [
            ("states.c.choices[0].when", "exactly one operator"),
            ("states.c.choices[1].when.matches", "not a valid pattern"),
        ],
    ),
    # -- tasks and tools ----------------------------------------------------------------
    (
        "task references",
        g(
            {
                "a": T("Bad_Name", next="b"),
                "b": T("nosuch", next="c"),
                "c": T("broken", next="d"),
                "d": T("me", next="e"),
                "e": T("outer", next="f", compensate={"task": "ghost"}),
                "f": {"type": "map", "items": "$.input.xs", "task": "ghost2", "next": "g"},
                "g": T("sibling", next="t"),
                "t": {"type": "tool", "tool": "core.echo", "next": "u"},
                "u": {"type": "tool", "tool": "core.nope", "end": True},
            }
        ),
        [
            ("states.a.task", "'Bad_Name' is not a valid task name"),
            ("states.b.task", "unknown task 'nosuch'"),
            ("states.c.task", "task 'broken' is not valid: config.json: type: unknown task type"),
            ("states.d.task", "the flow runs itself: state 'd' runs 'me', this flow"),
            (
                "states.e.task",
                "the flow runs itself: state 'e' runs 'outer', which runs 'inner', which runs "
                "'me' (this flow)",
            ),
            ("states.e.compensate.task", "unknown task 'ghost'"),
            ("states.f.task", "unknown task 'ghost2'"),
            ("states.u.tool", "unknown tool 'core.nope'"),
        ],
    ),
    # -- schemas ----------------------------------------------------------------------
    (
        "input schemas",
        g(
            {
                "a": T("typed", next="b"),
                "b": T(
                    "typed",
                    input={
                        "n": "1",
                        "name": 5,
                        "opts": None,
                        "ratio": 2,
                        "extra": True,
                        "nme": "x",
                    },
                    next="c",
                ),
                "c": T(
                    "typed",
                    input={"n": "{{ $.input.n }}", "name": {"$literal": "$x"}, "opts": [1]},
                    next="d",
                ),
                "d": T(
                    "typed",
                    input={"n": "$.input.n", "ratio": 1.5, "opts": {"k": "$.input"}},
                    next="e",
                ),
                "e": T("typed", input={"$literal": {"n": 1.0, "name": None}}, next="f"),
                "f": T("open", input={"b": 1}, next="g"),
                "g": T("typed", input="$.input", next="h"),
                "h": {
                    "type": "map",
                    "items": "$.input.xs",
                    "task": "typed",
                    "input": {"n": "$.item"},
                    "end": True,
                },
            }
        ),
        [
            (
                "states.a.input",
                "task 'typed' requires the input 'n', which this state does not pass",
            ),
            ("states.b.input.n", "expects 'n' to be integer, but this state passes a string '1'"),
            (
                "states.b.input.name",
                "expects 'name' to be string, but this state passes a number 5",
            ),
            ("states.b.input.extra", "task 'typed' has no input 'extra'"),
            ("states.b.input.nme", "has no input 'nme'; did you mean 'name'?"),
            ("states.c.input.n", "expects 'n' to be integer, but this state passes a string"),
            (
                "states.c.input.opts",
                "expects 'opts' to be object or null, but this state passes a list",
            ),
            ("states.e.input.name", "expects 'name' to be string, but this state passes null"),
            ("states.f.input", "task 'open' requires the input 'a'"),
        ],
    ),
    # -- numbers ------------------------------------------------------------------------
    (
        "numbers",
        g(
            {
                "a": T(
                    timeout_s=0,
                    retry={
                        "max_attempts": 0,
                        "backoff_s": -1,
                        "factor": 0.5,
                        "jitter": 1.5,
                        "max_backoff_s": -2,
                        "errors": [],
                    },
                    catch=[{"errors": [], "next": "b"}, {"errors": [" "], "next": "b"}],
                    next="b",
                ),
                "b": T(retry={"max_attempts": 1001, "errors": ["timeout", ""]}, next="m"),
                "m": {
                    "type": "map",
                    "items": "$.input.xs",
                    "task": "work",
                    "concurrency": -1,
                    "end": True,
                },
            },
            max_state_entries=0,
        ),
        [
            ("max_state_entries", "must be at least 1"),
            ("states.a.timeout_s", "must be greater than 0"),
            ("states.a.retry.max_attempts", "between 1 and 1000"),
            ("states.a.retry.backoff_s", "0 or more"),
            ("states.a.retry.factor", "at least 1"),
            ("states.a.retry.jitter", "between 0 and 1"),
            ("states.a.retry.max_backoff_s", "at least backoff_s (-1)"),
            ("states.a.retry.errors", "at least one error type"),
            ("states.a.catch[0].errors", "at least one error type"),
            ("states.a.catch[1].errors[0]", "cannot be empty"),
            ("states.b.retry.max_attempts", "between 1 and 1000"),
            ("states.b.retry.errors[1]", "cannot be empty"),
            ("states.m.concurrency", "0 (no limit) or more"),
        ],
    ),
]


def check(problems: list[Problem], expected: list[tuple[str, str]]) -> None:
    left = list(problems)
    missing = []
    for where, fragment in expected:
        for problem in left:
            if problem.where == f"graph.json: {where}" and fragment in problem.message:
                left.remove(problem)
                break
        else:
            missing.append((where, fragment))
    shown = "\n".join(f"  {p.where} | {p.message}" for p in problems)
    assert not missing and not left, f"missing {missing}\nunexpected {left}\nall:\n{shown}"


def decode(raw: dict[str, Any]) -> Graph:
    graph, problems = load_graph(json.dumps(raw))
    assert not problems, problems
    assert graph is not None
    return graph


@pytest.mark.parametrize(("raw", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_graphs(raw: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    problems = analyze(
        decode(raw),
        flow_name="me",
        lookup_task=CATALOG.get,
        has_tool=lambda name: name == "core.echo",
    )
    check(problems, expected)


def test_without_lookups_only_structure_is_checked() -> None:
    graph = decode(
        g(
            {
                "a": T("nosuch", next="b"),
                "b": T("me", next="t"),
                "t": {"type": "tool", "tool": "x", "end": True},
            }
        )
    )
    check(
        analyze(graph, flow_name="me"),
        [("states.b.task", "the flow runs itself")],
    )


def test_referenced_tasks_and_tools_in_all_scopes() -> None:
    graph = decode(
        g(
            {
                "a": T("one", compensate={"task": "undo"}, next="p"),
                "p": {
                    "type": "parallel",
                    "next": "m",
                    "branches": [
                        branch({"b": T("two")}),
                        branch({"c": {"type": "tool", "tool": "t.b", "end": True}}),
                    ],
                },
                "m": {
                    "type": "map",
                    "items": "$.input.xs",
                    "end": True,
                    "iterator": branch(
                        {"i": {"type": "map", "items": "$.item", "task": "three", "end": True}}
                    ),
                },
            }
        )
    )
    assert referenced_tasks(graph) == {"one", "undo", "two", "three"}
    assert referenced_tools(graph) == {"t.b"}


def _chain(n: int) -> str:
    states: dict[str, Any] = {}
    for i in range(n):
        states[f"s{i}"] = T(
            input={"prev": f"$.steps.s{max(i - 1, 0)}.output", "n": "{{ $.input.n }}"},
            catch=[{"errors": ["timeout"], "next": "failed"}],
            next=f"s{i + 1}",
        )
    states[f"s{n - 1}"] = T()
    states["failed"] = {"type": "fail", "error": "x"}
    return json.dumps(g(states))


def _analysis_seconds(text: str) -> float:
    """Best of three (load and analyze), in this process's CPU time with the garbage
    collector off: the machine is shared, and neither other processes nor a collection
    that happens to fall in one pass say anything about the analysis."""
    times = []
    gc.disable()
    try:
        for _ in range(3):
            started = time.process_time()
            graph, problems = load_graph(text)
            assert graph is not None and not problems
            found = analyze(graph, flow_name="me", lookup_task=CATALOG.get, has_tool=lambda n: True)
            times.append(time.process_time() - started)
            assert found == []
    finally:
        gc.enable()
    return min(times)


def test_a_large_graph_analyses_in_linear_time() -> None:
    """10,000 states: no quadratic step. Compared with 2,000 states measured in the same
    test (a ratio, not a wall-clock limit): linear is 5x, quadratic would be 25x."""
    small, large = _analysis_seconds(_chain(2_000)), _analysis_seconds(_chain(10_000))
    assert large / small < 12, f"{small:.3f}s for 2,000 states, {large:.3f}s for 10,000"


def test_a_long_loop_does_not_overflow() -> None:
    states = {f"s{i}": T(next=f"s{(i + 1) % 5000}") for i in range(5000)}
    graph = decode(g(states))
    problems = analyze(graph, flow_name="me")
    assert [p.where for p in problems] == ["graph.json: start", "graph.json: states.s0"]
    assert "s0 → s1 → s2" in problems[1].message
