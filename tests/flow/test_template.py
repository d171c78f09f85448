"""Templates: whole paths, interpolation, $literal, errors with locations, bounds."""

from __future__ import annotations

import pytest

from seqd.flow.paths import Path, PathError
from seqd.flow.template import MAX_DEPTH, TemplateError, render, template_paths

DATA = {
    "input": {"name": "Ada", "n": 3, "tags": ["x", "y"], "none": None, "obj": {"a": 1}},
    "steps": {"fetch": {"status": "succeeded", "output": {"items": [10, 20]}, "error": None}},
    "flow": {"run_id": "r1", "task": "etl", "attempt": 1},
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("$.input.n", 3),
        ("$.input.tags", ["x", "y"]),
        ("$.input.none", None),
        ("$.steps.fetch.output.items[-1]", 20),
        ("plain text", "plain text"),
        ("costs 5$", "costs 5$"),
        ("}} not a template {", "}} not a template {"),
        ("Hello {{ $.input.name }}!", "Hello Ada!"),
        ("{{$.input.n}}", "3"),
        ("n={{ $.input.n }} tags={{ $.input.tags }}", 'n=3 tags=["x","y"]'),
        ("{{ $.input.obj }}/{{ $.input.none }}", '{"a":1}/null'),
        ({"$literal": "$.input.n"}, "$.input.n"),
        ({"$literal": {"a": "$.x", "b": "{{ $.y }}"}}, {"a": "$.x", "b": "{{ $.y }}"}),
        (
            {"who": "$.input.name", "list": ["$.input.n", 4, True, None], "k": {"$": 1}},
            {"who": "Ada", "list": [3, 4, True, None], "k": {"$": 1}},
        ),
        (7, 7),
        (None, None),
        (False, False),
        ({}, {}),
    ],
)
def test_renders(template: object, expected: object) -> None:
    assert render(template, DATA) == expected


def test_whole_path_keeps_the_value_itself() -> None:
    assert render("$.input.obj", DATA) is DATA["input"]["obj"]


@pytest.mark.parametrize(
    ("template", "location", "fragment"),
    [
        ("$.input.missing", "input", "$.input.missing does not exist"),
        ({"a": ["x", "$.steps.nope.output"]}, "input.a[1]", "$.steps.nope.output does not exist"),
        ({"odd key": "$.input.zz"}, 'input["odd key"]', "does not exist"),
        ("hi {{ $.input.gone }}", "input", "$.input.gone (in 'hi {{ $.input.gone }}')"),
        ("$.input..x", "input", "bad path"),
        ("$5 fee", "input", "bad path"),
        ("a {{ $.input.name", "input", "not closed"),
        ("a {{ }}", "input", "empty"),
        ("a {{ input.name }}", "input", "starts with '$'"),
        ({"$literal": 1, "x": 2}, "input", "no other key"),
    ],
)
def test_errors_name_path_and_location(template: object, location: str, fragment: str) -> None:
    with pytest.raises(TemplateError) as info:
        render(template, DATA, location="input")
    assert info.value.location == location
    assert fragment in info.value.message
    assert str(info.value).startswith(f"{location}: ")


def test_nesting_is_capped() -> None:
    deep: object = "$.input.n"
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(TemplateError, match="nests deeper"):
        render(deep, DATA)


def test_doubling_cannot_blow_up() -> None:
    # Each level references the previous one twice: 2**40 leaves if expanded.
    value: object = "x" * 100
    for _ in range(40):
        value = [value, value]
    data = {"input": {"v": value}}
    with pytest.raises(TemplateError, match="larger than"):
        render("$.input.v", data)
    with pytest.raises(TemplateError, match="larger than"):
        render("v={{ $.input.v }}", data)
    with pytest.raises(TemplateError, match="larger than"):
        render({"$literal": value}, data)


def test_budget_counts_across_the_template() -> None:
    data = {"input": {"s": "x" * 1000}}
    assert render(["$.input.s"] * 5, data, budget=6000) == ["x" * 1000] * 5
    with pytest.raises(TemplateError, match="larger than"):
        render(["$.input.s"] * 10, data, budget=6000)


def test_template_paths_lists_every_path_with_its_location() -> None:
    template = {
        "a": "$.input.x",
        "b": ["lit", "{{ $.steps.s.output }} and {{ $.flow.run_id }}"],
        "c": {"$literal": "$.ignored"},
        "d": "$.bad..",
        "e": "oops {{ $.x",
        "f": {"$literal": 1, "extra": 2},
    }
    found = template_paths(template, "input")
    shown = [(loc, p.text if isinstance(p, Path) else type(p).__name__) for loc, p in found]
    assert shown == [
        ("input.a", "$.input.x"),
        ("input.b[1]", "$.steps.s.output"),
        ("input.b[1]", "$.flow.run_id"),
        ("input.d", "PathError"),
        ("input.e", "PathError"),
        ("input.f", "PathError"),
    ]
    bad = dict(found)["input.e"]
    assert isinstance(bad, PathError) and bad.position == 5


def test_template_paths_reports_position_inside_interpolation() -> None:
    [(_, err)] = template_paths("ab {{ $.x[ }}")
    assert isinstance(err, PathError)
    assert err.position == 10  # the ' ' after '[' in the whole string
