"""Generated schemas are the same whatever msgspec version formats them."""

from __future__ import annotations

from seqd.model.schemas import tidy


def test_descriptions_are_dedented_as_old_msgspec_left_them():
    old = {
        "description": "First line,\n    second line.",
        "properties": {"a": {"description": "x\n  y"}},
    }
    assert tidy(old) == {
        "description": "First line,\nsecond line.",
        "properties": {"a": {"description": "x\ny"}},
    }


def test_null_comes_last_in_any_of():
    doc = {
        "anyOf": [{"type": "null"}, {"$ref": "#/x"}],
        "items": [{"anyOf": [{"type": "null"}, {"type": "integer"}]}],
    }
    assert tidy(doc) == {
        "anyOf": [{"$ref": "#/x"}, {"type": "null"}],
        "items": [{"anyOf": [{"type": "integer"}, {"type": "null"}]}],
    }
