"""The path language: what parses, what does not (and where), and lookups on data."""

from __future__ import annotations

import pytest

from seqd.flow.paths import (
    MAX_PATH_CHARS,
    MAX_SEGMENTS,
    MISSING,
    PathError,
    format_segments,
    lookup,
    parse_path,
)


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("$.input", ("input",)),
        ("$.steps.fetch.output.items[0]", ("steps", "fetch", "output", "items", 0)),
        ("$.steps.my-state_2.output", ("steps", "my-state_2", "output")),
        ("$.input.rows[-1]", ("input", "rows", -1)),
        ('$.input["a key"]', ("input", "a key")),
        ("$.input['it''s']".replace("''", "\\'"), ("input", "it's")),
        ('$.input["q\\"uote\\\\"]', ("input", 'q"uote\\')),
        ('$["input"].x', ("input", "x")),
        ("$.input[007]", ("input", 7)),
        ('$.input[""]', ("input", "")),
        ("$._", ("_",)),
    ],
)
def test_parses(text: str, segments: tuple[str | int, ...]) -> None:
    path = parse_path(text)
    assert path.segments == segments
    assert path.text == text
    assert path.root == segments[0]


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("", 0, "starts with '$'"),
        ("input.x", 0, "starts with '$'"),
        ("$", 1, "at least one segment"),
        ("$input", 1, "expected '.' or '['"),
        ("$.", 2, "expected a name"),
        ("$.1abc", 2, "expected a name"),
        ("$.a..b", 4, "expected a name"),
        ("$.a b", 3, "expected '.' or '['"),
        ("$.a[", 4, "unclosed '['"),
        ("$.a[x]", 4, "a number or a quoted key"),
        ("$.a[1", 5, "expected ']'"),
        ("$.a[-]", 4, "a number or a quoted key"),
        ("$.a[1.5]", 5, "expected ']'"),
        ('$.a["x]', 4, "unclosed quoted key"),
        ('$.a["x\\n"]', 6, "backslash"),
        ("$.a['x\"]", 4, "unclosed quoted key"),
        ("$[0]", 1, "not an index"),
        ("$.a[1234567890]", 4, "at most 9 digits"),
        ("$.a ", 3, "expected '.' or '['"),
    ],
)
def test_rejects_with_position(text: str, position: int, fragment: str) -> None:
    with pytest.raises(PathError) as info:
        parse_path(text)
    assert info.value.position == position
    assert fragment in info.value.message
    assert f"position {position}" in str(info.value)


def test_limits() -> None:
    parse_path("$" + ".a" * MAX_SEGMENTS)
    with pytest.raises(PathError, match="at most 64 segments"):
        parse_path("$" + ".a" * (MAX_SEGMENTS + 1))
    long_name = "$." + "a" * (MAX_PATH_CHARS - 2)
    assert parse_path(long_name).segments == ("a" * (MAX_PATH_CHARS - 2),)
    with pytest.raises(PathError, match="at most 1000 characters"):
        parse_path(long_name + "b")


def test_not_a_string() -> None:
    with pytest.raises(PathError, match="must be a string"):
        parse_path(3)  # type: ignore[arg-type]


DATA = {
    "input": {"rows": [{"id": 1}, {"id": 2}, None], "n": 0, "flag": False, "a key": "v"},
    "steps": {"fetch": {"status": "succeeded", "output": "text", "error": None}},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$.input.rows[0].id", 1),
        ("$.input.rows[-3].id", 1),
        ("$.input.rows[-1]", None),
        ("$.input.n", 0),
        ("$.input.flag", False),
        ('$.input["a key"]', "v"),
        ("$.steps.fetch.error", None),
        ("$.input.rows[3]", MISSING),
        ("$.input.rows[-4]", MISSING),
        ("$.input.rows.id", MISSING),
        ("$.input.n.x", MISSING),
        ("$.input.n[0]", MISSING),
        ("$.steps.fetch.output[0]", MISSING),
        ("$.input.rows[2].id", MISSING),
        ("$.nothing", MISSING),
    ],
)
def test_lookup(text: str, expected: object) -> None:
    found = lookup(parse_path(text), DATA)
    if expected is MISSING:
        assert found is MISSING
    else:
        assert found == expected and found is not MISSING


def test_missing_is_distinct_from_null_and_falsy() -> None:
    assert MISSING is not None
    assert not MISSING
    assert repr(MISSING) == "MISSING"


def test_format_segments_round_trips() -> None:
    for text in ("$.a.b[2]", '$.a["x y"][-1]', '$.a["q\\"\\\\"]', "$.a-b._c"):
        path = parse_path(text)
        assert parse_path("$" + format_segments(path.segments)).segments == path.segments
