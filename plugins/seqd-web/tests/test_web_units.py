"""The dashboard's pure parts: the submit form from a schema and back, the pictures,
and that whatever the daemon hands over is escaped, never markup."""

from __future__ import annotations

from typing import Any

import pytest
from seqd_web import forms, render, svg
from seqd_web.settings import address, loopback

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "who"},
        "count": {"type": "integer", "default": 3},
        "ratio": {"type": ["number", "null"]},
        "loud": {"type": "boolean"},
        "mode": {"enum": ["a", "b", 1]},
        "extra": {"type": "object"},
    },
    "required": ["name"],
}


def test_form_values_take_the_declared_types() -> None:
    given = {"name": "Ada", "count": "7", "ratio": "0.5", "loud": "true", "mode": "1",
             "extra": '{"k": [1]}', "csrf": "x"}  # fmt: skip
    assert forms.values(SCHEMA, given) == {
        "name": "Ada", "count": 7, "ratio": 0.5, "loud": True, "mode": 1, "extra": {"k": [1]},
    }  # fmt: skip
    assert forms.values(SCHEMA, {"name": "Bo"}) == {"name": "Bo", "loud": False}


@pytest.mark.parametrize(
    ("field", "value"), [("count", "1.5"), ("ratio", "lots"), ("extra", "{nope"), ("mode", "c")]
)
def test_a_value_of_the_wrong_type_names_its_field(field: str, value: str) -> None:
    with pytest.raises(forms.FormError, match=rf"^{field}: "):
        forms.values(SCHEMA, {"name": "x", field: value})


def test_without_a_schema_the_input_is_one_json_object() -> None:
    assert forms.values(None, {forms.JSON_FIELD: '{"a": 1}'}) == {"a": 1}
    assert forms.values({"type": "object"}, {}) == {}
    for bad in ("[1]", "nope"):
        with pytest.raises(forms.FormError, match=r"^input: "):
            forms.values(None, {forms.JSON_FIELD: bad})


def test_form_fields_follow_the_schema() -> None:
    html = forms.fields(SCHEMA)
    assert '<input name="name" value="" required>' in html
    assert 'type="number" step="1" name="count" value="3"' in html
    assert 'type="checkbox" name="loud"' in html
    assert '<select name="mode">' in html and '<option value="1">1</option>' in html
    assert '<textarea name="extra"' in html


def test_hostile_names_are_escaped() -> None:
    evil = '"><script>alert(1)</script>'
    html = forms.fields({"properties": {evil: {"type": "string", "description": evil}}})
    assert "<script>" not in html and "&lt;script&gt;" in html
    page = render.page(evil, render.table([evil], [[render.esc(evil)]]), data={"x": evil})
    assert "<script>alert" not in page
    times = {"start": "2026-01-01T00:00:00.000000Z", "end": "2026-01-01T00:00:01.000000Z"}
    spans = [{"span_id": "1", "name": evil, "kind": "run", "run_id": "ab/../x", "outcome": evil,
              **times}]  # fmt: skip
    drawn = svg.waterfall(spans)
    assert "<script>" not in drawn and 'href="/runs/ab%2F..%2Fx"' in drawn


def test_flow_graph_colours_states_by_the_journal() -> None:
    states: dict[str, dict[str, Any]] = {
        "a": {"next": "b"},
        "b": {"choices": [{"next": "c"}], "default": "a"},
        "c": {},
    }
    steps = [
        {"kind": "state", "name": "a", "status": "started"},
        {"kind": "state", "name": "a", "status": "succeeded"},
        {"kind": "state", "name": "b", "status": "failed"},
    ]
    drawn = svg.flow_graph(states, steps)
    assert 'class="state st-succeeded" data-state="a"' in drawn
    assert 'class="state st-failed" data-state="b"' in drawn
    assert 'class="state st-pending" data-state="c"' in drawn
    assert drawn.count('class="edge"') == 3  # a→b, b→c, b→a
    assert svg.flow_graph({}, steps).count("<g class=") == 2  # from the journal alone
    assert "no flow states" in svg.flow_graph({}, [])


def test_listen_addresses() -> None:
    assert address("127.0.0.1:8470") == ("127.0.0.1", 8470)
    assert address("[::1]:0") == ("::1", 0)
    for bad in ("8470", ":8470", "host:99999", "host:http"):
        with pytest.raises(ValueError, match="not HOST:PORT"):
            address(bad)
    assert loopback("localhost") and loopback("127.0.0.2") and loopback("::1")
    assert not loopback("0.0.0.0") and not loopback("example.com")
