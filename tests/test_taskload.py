"""Loading task folders: every bad definition becomes a problem, never a crash."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import msgspec
import pytest

from seqd.catalog.catalog import Catalog
from seqd.catalog.load import folder_version, load_task, scan
from seqd.errors import NotFound, NotRunnable, ValidationFailed
from seqd.model.tasks import Problem
from seqd.plugins.host import Registry
from seqd.plugins.tasktype import TaskType


class Opts(msgspec.Struct, forbid_unknown_fields=True):
    command: list[str]


class FakeType:
    name = "fake"
    options_type = Opts
    defining_files = ("code.py",)

    def check(self, source: Any) -> list[Problem]:
        if "code.py" not in source.files:
            return [Problem(where="code.py", message="missing")]
        return []

    async def start(self, services: Any) -> None: ...
    async def stop(self, grace_s: float) -> None: ...

    async def input_schema(self, source: Any) -> dict[str, Any] | None:
        if "raise" in source.files["code.py"]:
            raise RuntimeError("code.py failed to import: boom")
        return {"type": "object", "properties": {"n": {"type": "integer", "default": 3}}}

    async def execute(self, job: Any) -> Any: ...

    def stats(self) -> dict[str, int]:
        return {}


def registry() -> Registry[TaskType]:
    reg: Registry[TaskType] = Registry("task type", lambda o: True)
    reg.add("test", FakeType())
    return reg


def make_task(root: Path, name: str, config: Any, code: str | None = "x = 1\n") -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    text = config if isinstance(config, str) else json.dumps(config)
    (folder / "config.json").write_text(text)
    if code is not None:
        (folder / "code.py").write_text(code)
    return folder


GOOD = {"type": "fake", "command": ["true"]}


def problems(root: Path, name: str) -> list[str]:
    entry = load_task(str(root / name), name, registry())
    return [f"{p.where}: {p.message}" for p in entry.definition.problems]


def test_good_task(tmp_path: Path) -> None:
    make_task(tmp_path, "good", {**GOOD, "description": "d", "tags": ["a"], "timeout_s": 3})
    entry = load_task(str(tmp_path / "good"), "good", registry())
    assert entry.runnable, entry.definition.problems
    assert entry.definition.options == {"command": ["true"]}
    assert entry.source is not None and entry.source.files["code.py"] == "x = 1\n"
    assert entry.definition.inputs_from == "none"  # until the task type is asked


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ({"command": ["x"]}, "type"),
        ({"type": 5}, "type"),
        ({"type": "nope"}, "unknown task type 'nope'"),
        ({**GOOD, "timeout_s": "soon"}, "timeout_s"),
        ({**GOOD, "timeout_s": -1}, "timeout_s"),
        ({**GOOD, "concurrency": 0}, "concurrency"),
        ({**GOOD, "retries": {"max": "x"}}, "retries.max"),
        ({**GOOD, "commmand": 1}, "commmand"),
        ({"type": "fake", "command": "true"}, "command"),
        ({**GOOD, "inputs": {"type": "nonsense"}}, "not a valid JSON Schema"),
        ({**GOOD, "inputs": {"type": "string"}}, '"type": "object"'),
        ({**GOOD, "tags": "x"}, "tags"),
        ({**GOOD, "retries": {"max_attempts": 3}}, "max_attempts"),
    ],
)
def test_bad_configs_are_problems(tmp_path: Path, config: Any, needle: str) -> None:
    make_task(tmp_path, "t", config)
    found = problems(tmp_path, "t")
    assert any(needle in p for p in found), found


def test_missing_config_and_bad_name(tmp_path: Path) -> None:
    (tmp_path / "Bad Name").mkdir()
    found = problems(tmp_path, "Bad Name")
    assert any("not a valid task name" in p for p in found)
    assert any("config.json: missing" in p for p in found)


def test_symlinks_out_of_the_folder_are_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("SECRET = 1\n")
    (outside / "config.json").write_text(json.dumps(GOOD))
    root = tmp_path / "tasks"
    folder = make_task(root, "t", GOOD, code=None)
    os.symlink(outside / "secret.py", folder / "code.py")
    found = problems(root, "t")
    assert any("code.py" in p and "outside" in p for p in found), found
    folder2 = root / "t2"
    folder2.mkdir()
    os.symlink(outside / "config.json", folder2 / "config.json")
    assert any("outside" in p for p in problems(root, "t2"))
    os.symlink(outside, root / "t3")
    assert "t3" not in scan([str(root)], registry())


def test_version_changes_with_any_file(tmp_path: Path) -> None:
    folder = make_task(tmp_path, "t", GOOD)
    v1, _ = folder_version(str(folder))
    (folder / "helper.sh").write_text("echo\n")
    v2, _ = folder_version(str(folder))
    (folder / "runs").mkdir()
    (folder / "runs" / "x.json").write_text("{}")
    v3, _ = folder_version(str(folder))
    assert v1 != v2 == v3


def test_scan_first_dir_wins_and_skips_hidden(tmp_path: Path) -> None:
    make_task(tmp_path / "a", "t", {**GOOD, "description": "from a"})
    make_task(tmp_path / "b", "t", {**GOOD, "description": "from b"})
    make_task(tmp_path / "b", ".hidden", GOOD)
    found = scan([str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "none")], registry())
    assert list(found) == ["t"]
    assert found["t"].definition.description == "from a"


def test_catalog_schema_defaults_and_validation(tmp_path: Path) -> None:
    make_task(tmp_path, "sig", GOOD)
    make_task(
        tmp_path,
        "cfg",
        {
            **GOOD,
            "inputs": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "deep": {"type": "object", "properties": {"x": {"type": "integer"}}},
                },
                "required": ["name"],
                "additionalProperties": False,
            },
        },
    )
    make_task(tmp_path, "broken", GOOD, code="raise\n")

    async def main() -> None:
        cat = Catalog([str(tmp_path)], registry())
        result = await cat.reload()
        assert result.tasks == 3
        sig = await cat.runnable("sig")
        assert sig.definition.inputs_from == "signature"
        assert cat.check_input(sig, {}) == {"n": 3}
        with pytest.raises(ValidationFailed) as err:
            cat.check_input(sig, {"n": "three"})
        assert err.value.details["field"] == "input.n"
        cfg = await cat.runnable("cfg")
        with pytest.raises(ValidationFailed, match="name"):
            cat.check_input(cfg, {})
        with pytest.raises(ValidationFailed) as err:
            cat.check_input(cfg, {"name": "x", "deep": {"x": "y"}})
        assert err.value.details["field"] == "input.deep.x"
        with pytest.raises(NotRunnable, match="boom"):
            await cat.runnable("broken")
        with pytest.raises(NotFound):
            cat.get("nope")
        assert [s.name for s in cat.summaries()] == ["broken", "cfg", "sig"]
        # a reload with nothing changed reports nothing changed
        assert (await cat.reload()).changed == []
        (tmp_path / "cfg" / "config.json").write_text("{")
        again = await cat.reload()
        assert again.changed == ["cfg"] and "cfg" in again.invalid

    asyncio.run(main())
