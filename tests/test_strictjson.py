"""seqd.rpc.strictjson against ``json``: the same values, the same errors at the same places,
constants refused — and ``re`` never imported."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from seqd.rpc import strictjson

GOOD = [
    "0",
    "-1.5e3",
    '"é\\u00e9\\ud83d\\ude00"',
    "true",
    "null",
    "[]",
    "{}",
    ' \t\r\n{"a": [1, 2.5, null, {"b": "c"}], "a": 2}\n ',
    '[1, [2, [3, {"x": []}]]]',
    "1e400",  # a float too big for a double: inf, as json.loads gives
    "9" * 100,
]
BAD = [
    "",
    "   ",
    "[1,",
    "[1 2]",
    '{"a" 1}',
    '{"a": 1,}',
    "{'a': 1}",
    "nope",
    '"\x01"',  # a raw control character
    '"\\x"',
    "[1] [2]",
    "1 x",
    '"unterminated',
    "\ufeff{}",
]


@pytest.mark.parametrize("text", GOOD)
def test_values_are_those_json_gives(text: str) -> None:
    assert strictjson.loads(text) == json.loads(text)


@pytest.mark.parametrize("text", BAD)
def test_errors_are_those_json_gives(text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)
    with pytest.raises(json.JSONDecodeError) as got:
        strictjson.loads(text)
    assert (str(got.value), got.value.pos) == (str(expected.value), expected.value.pos)


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}'])
def test_constants_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not JSON"):
        strictjson.loads(text)


def test_object_hook_and_deep_nesting() -> None:
    class Obj(dict[str, Any]):
        pass

    value = strictjson.Decoder(object_hook=Obj).loads('[{"a": {"b": 1}}]')
    assert value == [{"a": {"b": 1}}]
    assert type(value[0]) is Obj and type(value[0]["a"]) is Obj
    with pytest.raises(RecursionError):
        strictjson.loads("[" * 100_000)


@pytest.mark.parametrize(
    "value",
    [
        {"a": [1, 2.5, None, True, False], "é": "ü\n\x00\u2028", 3: "int key"},
        "top-level string",
        [],
        {},
        10**30,
        -0.0,
    ],
)
def test_dumps_is_compact_json_dumps(value: Any) -> None:
    expected = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    assert strictjson.dumps(value) == expected


def test_dumps_refuses_what_json_refuses() -> None:
    with pytest.raises(ValueError, match="Out of range float"):
        strictjson.dumps({"x": float("nan")})
    with pytest.raises(TypeError, match="Object of type object is not JSON serializable"):
        strictjson.dumps([object()])
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match="Circular reference"):
        strictjson.dumps(cycle)
    with pytest.raises(ValueError, match="Circular reference"):  # the failed call left nothing
        strictjson.dumps(cycle)
    assert strictjson.dumps({"s": {1, 2}}, default=sorted) == '{"s":[1,2]}'


def test_imports_neither_json_nor_re_until_an_error() -> None:
    code = (
        "import sys\n"
        "from seqd.rpc import strictjson\n"
        "strictjson.dumps(strictjson.loads('{\"a\": [1, 2.5]}'))\n"
        "print(sorted(m for m in ('json', 'json.decoder', 're', 'enum') if m in sys.modules))\n"
        "try:\n"
        "    strictjson.loads('{\"a\" 1}')\n"  # the scanner's own error: json.decoder now
        "except ValueError as exc:\n"
        "    print(type(exc).__name__, exc.pos)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.splitlines() == ["[]", "JSONDecodeError 5"], proc.stderr
