"""The example flows in contrib/examples/tasks: sound by the analyzer and the schema.

Every example graph decodes, matches docs/flow.schema.json and has no analyzer problem,
with a task lookup built from the examples' own configs (so a renamed task, a changed
input schema or a broken mapping fails here). The ETL example's mappings are also
rendered against the real outputs of its tasks, run one by one through a real daemon.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from jsonschema import Draft202012Validator
from msgspec import UNSET

from seqd.flow.analyze import TaskInfo, analyze, load_graph, referenced_tasks
from seqd.flow.graph import Graph, TaskState
from seqd.flow.template import render

if TYPE_CHECKING:
    from conftest import Daemon

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "contrib" / "examples" / "tasks"
SCHEMA = ROOT / "docs" / "flow.schema.json"
FLOWS = sorted(p.parent.name for p in EXAMPLES.glob("*/graph.json"))


def config(name: str) -> dict[str, Any]:
    data = json.loads((EXAMPLES / name / "config.json").read_text())
    assert isinstance(data, dict)
    return data


def graph_of(name: str) -> Graph:
    graph, problems = load_graph((EXAMPLES / name / "graph.json").read_text())
    assert problems == [] and graph is not None, problems
    return graph


def catalog() -> dict[str, TaskInfo]:
    tasks: dict[str, TaskInfo] = {}
    for folder in sorted(p for p in EXAMPLES.iterdir() if (p / "config.json").is_file()):
        cfg = config(folder.name)
        refs = referenced_tasks(graph_of(folder.name)) if cfg["type"] == "flow" else set()
        tasks[folder.name] = TaskInfo(cfg["type"], True, cfg.get("inputs"), frozenset(refs))
    return tasks


def test_the_four_kinds_are_there() -> None:
    assert {"etl", "fanout", "triage", "nested"} <= set(FLOWS)
    for name in FLOWS:
        assert config(name)["type"] == "flow"


@pytest.mark.parametrize("name", FLOWS)
def test_example_is_sound(name: str) -> None:
    tasks = catalog()
    problems = analyze(
        graph_of(name), flow_name=name, lookup_task=tasks.get, has_tool=lambda _: False
    )
    assert problems == []
    for task in referenced_tasks(graph_of(name)):
        assert task in tasks, f"{name} runs {task}, which is not an example task"


@pytest.mark.parametrize("name", FLOWS)
def test_example_matches_the_editor_schema(name: str) -> None:
    path = EXAMPLES / name / "graph.json"
    raw = json.loads(path.read_text())
    assert (path.parent / raw["$schema"]).resolve() == SCHEMA
    schema = json.loads(SCHEMA.read_text())
    errors = list(Draft202012Validator(schema).iter_errors(raw))
    assert errors == []


def test_the_analyzer_sees_a_broken_example() -> None:
    # The lookup is not vacuous: the same examples with a task gone or its input changed.
    tasks = catalog()
    del tasks["etl-load"]
    tasks["etl-extract"] = TaskInfo(
        "python", True, {"type": "object", "required": ["csv"], "additionalProperties": False}
    )
    problems = {
        (p.where, p.message)
        for p in analyze(graph_of("etl"), flow_name="etl", lookup_task=tasks.get)
    }
    assert ("graph.json: states.load.task", "unknown task 'etl-load'") in problems
    assert any("requires the input 'csv'" in m for _, m in problems)
    assert any("has no input 'text'" in m for _, m in problems)
    nested = analyze(
        graph_of("nested"),
        flow_name="etl-transform",  # as if etl's transform step were this flow
        lookup_task=catalog().get,
    )
    assert [p.message for p in nested] == [
        "the flow runs itself: state 'etl' runs 'etl', which runs 'etl-transform' (this flow)"
    ]


def test_etl_mappings_fit_the_real_tasks(daemon: Daemon, tmp_path: Path) -> None:
    """Walk the linear etl graph by hand: render each state's input from the context,
    run the task through the daemon, store its output as the graph says; then render
    the flow's output. This checks the example's paths against real task outputs."""
    graph = graph_of("etl")
    out = tmp_path / "rows.jsonl"
    context: dict[str, Any] = {
        "input": {
            "csv": "name,amount\n  ada  lovelace ,12.5\nbob,oops\ncarol,3\n",
            "out": str(out),
        },
        "steps": {},
        "flow": {"run_id": "test", "task": "etl", "attempt": 1},
    }
    name: str | None = graph.start
    with daemon.client() as c:
        while name is not None:
            state = graph.states[name]
            assert isinstance(state, TaskState)
            child_input = render(state.input, context, location=f"states.{name}.input")
            run = c.submit(state.task, child_input, wait=True, timeout_s=60)
            assert run.status == "succeeded", run.error
            output = run.output
            if state.output is not UNSET:
                output = render(state.output, {**context, "result": run.output})
            context["steps"][name] = {"status": run.status, "output": output, "error": None}
            name = None if state.end else state.next
    result = render(graph.output, context, location="output")
    assert result == {"rows_in": 3, "rows_dropped": 1, "rows_out": 2, "file": str(out)}
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines == [{"amount": 12.5, "name": "Ada Lovelace"}, {"amount": 3.0, "name": "Carol"}]
