"""The dashboard's pure parts: the submit form from a schema and back, the pictures,
and that whatever the daemon hands over is escaped, never markup."""

from __future__ import annotations

from typing import Any

import pytest
from seqd_web import forms, nodes, render, svg
from seqd_web.settings import address, loopback

from seqd.model import timeutil

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


def _node(ident: str, alive: bool, held: int = 0) -> dict[str, Any]:
    info = {"id": ident, "name": ident, "host": "<b>h</b>", "pid": 7, "version": "1",
            "started_at": "2026-12-06T20:00:00.000Z", "workers": 2}  # fmt: skip
    beat = "2026-12-06T20:00:10.000Z"
    return {"info": info, "heartbeat_at": beat, "expires_at": beat, "alive": alive,
            "runs_held": held}  # fmt: skip


def test_nodes_table_marks_this_node_counts_the_dead_and_escapes() -> None:
    now = timeutil.parse_ts("2026-12-06T20:00:15.000Z")
    found = {"shared": True, "node_id": "a", "nodes": [_node("a", True), _node("<x>", False, 3)]}
    html = nodes.node_rows(found, now)
    assert "2 nodes" not in html and "1 node alive, 1 dead" in html
    assert '<tr data-node="a" class="this">' in html and "this node" in html
    assert '<tr data-node="&lt;x&gt;">' in html and "<x>" not in html and "<b>" not in html
    assert html.count("5 s ago") == 2 and "s-dead" in html
    single = {"shared": False, "node_id": "a", "nodes": [_node("a", True)]}
    assert "single node (SQLite/file store)" in nodes.node_rows(single, now)


def test_heartbeat_ages_read_as_seconds_minutes_hours() -> None:
    beat = "2026-12-06T20:00:00.000Z"
    at = timeutil.parse_ts(beat)
    assert ">59 s ago<" in nodes.age(beat, at + 59.4)
    assert ">3 min ago<" in nodes.age(beat, at + 200)
    assert ">2.5 h ago<" in nodes.age(beat, at + 9000)
    assert ">0 s ago<" in nodes.age(beat, at - 5)  # a node's clock a little ahead
    assert nodes.age("<late>", at) == "&lt;late&gt;"
