"""``tasks.validate`` tells every problem of a task or flow in one pass; names that do
not exist get "did you mean"; a number given as a string gets a hint. Real daemon."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seqd.client import RpcError


def task(root: Path, name: str, config: dict[str, object], **files: str) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config))
    for fname, text in files.items():
        (folder / fname.replace("_", ".")).write_text(text)


@pytest.fixture
def oops(tmp_path: Path) -> Path:
    root = tmp_path / "oops"
    code = "def run(ctx):\n    return 1\n"
    task(
        root,
        "oops-py",
        {"type": "python", "timeout_s": "soon", "concurrency": 0, "entyr": "main", "tagz": []},
        code_py=code,
    )
    task(root, "oops-sh", {"type": "shell", "comand": ["echo"], "descripton": "x"})
    task(root, "oops-type", {"type": "pyhton"}, code_py=code)
    graph = {
        "start": "a",
        "states": {
            "a": {"type": "task", "task": "noop", "next": "b", "timeout_s": "x", "retyr": {}},
            "b": {"type": "task", "task": "nopp", "end": True},
            "c": {"type": "succeed"},
        },
    }
    task(root, "oops-flow", {"type": "flow", "timeout_s": -1}, graph_json=json.dumps(graph))
    return root


def problems(client, name: str) -> list[str]:  # type: ignore[no-untyped-def]
    result = client.validate(name)
    assert not result.ok
    return [f"{p.where} | {p.message}" for p in result.problems]


def has(found: list[str], *fragments: str) -> None:
    for fragment in fragments:
        assert any(fragment in line for line in found), f"{fragment!r} not in {found}"


def test_every_problem_in_one_pass(make_daemon, oops: Path) -> None:
    d = make_daemon(tasks=[oops])
    with d.client() as c:
        found = problems(c, "oops-py")
        has(
            found,
            "config.json: timeout_s | Expected `float | null`, got `str`",
            "config.json: concurrency | must be at least 1",
            "config.json: entyr | unknown field; did you mean 'entry'?",
            "config.json: tagz | unknown field; did you mean 'tags'?",
        )
        assert len(found) == 4, found

        found = problems(c, "oops-sh")
        has(
            found,
            "config.json: comand | unknown field; did you mean 'command'?",
            "config.json: descripton | unknown field; did you mean 'description'?",
            "config.json: command | missing (required)",
        )

        has(problems(c, "oops-type"), "unknown task type 'pyhton'; did you mean 'python'?")

        found = problems(c, "oops-flow")
        has(
            found,
            "config.json: timeout_s | must be greater than 0",
            "graph.json: states.a.timeout_s | expected a number or null, got a string",
            "graph.json: states.a | unknown field 'retyr'; did you mean 'retry'?",
            "graph.json: states.b.task | unknown task 'nopp'",
            "graph.json: states.c | state 'c' can never be reached",
        )
        assert len(found) == len(set(found)) == 5, found

    # And seqctl prints them all, exit 1.
    shown = d.seqctl("tasks", "validate", "oops-flow")
    assert shown.returncode == 1 and "5 problem(s)" in shown.stdout, shown


def test_did_you_mean_and_the_json_hint(daemon) -> None:
    with daemon.client() as c:
        with pytest.raises(RpcError) as caught:
            c.task("helo")
        assert caught.value.type == "not_found"
        assert caught.value.details["did_you_mean"][0] == "hello"
        assert "did you mean 'hello'?" in caught.value.message
        with pytest.raises(RpcError) as caught:
            c.submit("helo")
        assert caught.value.details["did_you_mean"][0] == "hello"
        with pytest.raises(RpcError) as caught:
            c.tool("kv.gte")
        assert "kv.get" in caught.value.details["did_you_mean"]
        with pytest.raises(RpcError) as caught:
            c.call("runs.lst")
        assert caught.value.type == "method_not_found"
        assert caught.value.details["did_you_mean"][0] == "runs.list"
        with pytest.raises(RpcError) as caught:
            c.task("zzzzzzzz")
        assert "did_you_mean" not in caught.value.details

        with pytest.raises(RpcError) as caught:
            c.submit("slow", {"seconds": "5"})
        err = caught.value
        assert err.type == "validation" and err.details["field"] == "input.seconds"
        assert (
            err.details["hint"]
            == "use -i seconds:=5 to pass it as JSON; -i seconds=5 passes a string"
        )
        assert "-i seconds:=5" in err.message
        with pytest.raises(RpcError) as caught:
            c.submit("slow", {"seconds": "soon"})
        assert "hint" not in caught.value.details
