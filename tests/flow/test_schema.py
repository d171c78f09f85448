"""docs/flow.schema.json is the generated schema, and it accepts and rejects like decoding."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from jsonschema import Draft202012Validator

from seqd.flow import schema

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "flow.schema.json"


def test_schema_file_is_current() -> None:
    assert SCHEMA.read_text() == schema.render(), (
        "docs/flow.schema.json is stale: run `python -m seqd.flow.schema > docs/flow.schema.json`"
    )


def test_module_prints_it() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "seqd.flow.schema"], capture_output=True, text=True, check=True
    )
    assert out.stdout == SCHEMA.read_text()


def test_schema_is_valid_and_documents_fields() -> None:
    doc = json.loads(SCHEMA.read_text())
    Draft202012Validator.check_schema(doc)
    retry = doc["$defs"]["Retry"]["properties"]
    assert "first included" in retry["max_attempts"]["description"]
    assert "`all_settled`" in doc["$defs"]["ParallelState"]["properties"]["join"]["description"]


def test_schema_rejects_what_decoding_rejects() -> None:
    validator = Draft202012Validator(json.loads(SCHEMA.read_text()))
    good = {"start": "a", "states": {"a": {"type": "task", "task": "x", "end": True}}}
    assert list(validator.iter_errors(good)) == []
    for bad in (
        {"start": "a", "states": {"a": {"type": "task", "task": "x", "retyr": {}}}},
        {"start": "a", "states": {"a": {"type": "wiat"}}},
        {"start": "a", "states": {"a b": {"type": "succeed"}}},
        {"start": "a", "states": {"a": {"type": "task", "task": "Bad"}}},
        {"start": "a", "states": {}, "extra": 1},
        {
            "start": "a",
            "states": {
                "a": {
                    "type": "choice",
                    "choices": [{"when": {"path": "$.x", "in": 3}, "next": "a"}],
                }
            },
        },
    ):
        assert list(validator.iter_errors(bad)), bad
