"""Traces end to end: a real daemon, real workers, real storage.

A run's tree shares one trace id, task code and commands see it, a caller's
``traceparent`` is joined (and a bad one refused naming the field), and ``runs.trace``
builds the spans of the whole tree from what storage holds, also after a restart.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from seqd.client import RpcError
from seqd.model.traces import run_span_id, step_span_id

if TYPE_CHECKING:
    from conftest import Daemon

TASKS = Path(__file__).resolve().parent / "traces"
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def td(make_daemon) -> Daemon:  # type: ignore[no-untyped-def]
    return make_daemon(args=["--workers", "2"], tasks=[TASKS])  # type: ignore[no-any-return]


def by_name(spans: list[Any]) -> dict[str, Any]:
    return {s.name: s for s in spans}


def test_a_tree_shares_one_trace_and_task_code_sees_it(td: Daemon) -> None:
    with td.client() as c:
        run = c.submit("tr-parent", {}, wait=True, timeout_s=60)
        assert run.status == "succeeded", run.error
        out = run.output
        trace = run.trace_id
        assert re.fullmatch(r"[0-9a-f]{32}", trace)
        assert run.parent_span_id is None
        assert out["trace_id"] == trace
        assert out["root_id"] == run.id and out["parent_id"] is None
        assert out["traceparent"] == f"00-{trace}-{run_span_id(run.id)}-01"
        child_out = out["child"]
        assert child_out == {"trace_id": trace, "root_id": run.id, "parent_id": run.id}
        (child,) = c.list_runs(parent_id=run.id).runs
        assert child.trace_id == trace
        (step,) = [s for s in c.steps(run.id).steps if s.kind == "child"][-1:]
        assert child.parent_span_id == step_span_id(run.id, step.key)


def test_runs_trace_has_every_span_of_the_tree(td: Daemon) -> None:
    with td.client() as c:
        run = c.submit("tr-parent", {"fail": True}, wait=True, timeout_s=60)
        assert run.status == "failed"
        (child,) = c.list_runs(parent_id=run.id).runs
        result = c.trace(child.id)  # asked from the child: the whole tree comes back
        assert c.trace("last").spans == result.spans  # a run reference: the newest root
    assert result.root_id == run.id and result.trace_id == run.trace_id
    assert not result.truncated
    spans = by_name(result.spans)
    assert set(spans) == {
        "run tr-parent",
        "step prepare",
        "tool kv.set",
        "child tr-child",
        "sleep",
        "step explode",
        "run tr-child",
    }
    assert all(s.trace_id == run.trace_id for s in result.spans)
    root = spans["run tr-parent"]
    assert root.span_id == run_span_id(run.id) and root.parent_span_id is None
    assert root.failed and root.outcome == "failed" and root.end is not None
    assert root.attributes["seqd.task"] == "tr-parent"
    for name in ("step prepare", "tool kv.set", "child tr-child", "sleep", "step explode"):
        span = spans[name]
        assert span.parent_span_id == root.span_id, name
        assert span.run_id == run.id
        assert span.start <= span.end, name
        assert span.span_id == step_span_id(run.id, span.attributes["seqd.journal.key"])
    assert spans["run tr-child"].parent_span_id == spans["child tr-child"].span_id
    assert spans["child tr-child"].outcome == "succeeded"
    assert spans["child tr-child"].attributes["seqd.step.child_id"] == child.id
    explode = spans["step explode"]
    assert explode.failed and "asked to fail" in (explode.error or "")
    assert not spans["step prepare"].failed
    # The sleep lasted until its due time, after the child had ended.
    assert spans["sleep"].start >= spans["child tr-child"].end
    assert spans["sleep"].end > spans["sleep"].start


def test_a_flow_trace_holds_its_states_and_children(td: Daemon) -> None:
    with td.client() as c:
        run = c.submit("tr-flow", {}, wait=True, timeout_s=60)
        assert run.status == "succeeded", run.error
        spans = c.trace(run.id).spans
    kinds = sorted((s.kind, s.name) for s in spans)
    assert kinds == [
        ("run", "run tr-child"),
        ("run", "run tr-child"),
        ("run", "run tr-flow"),
        ("state", "state first"),
        ("state", "state last"),
        ("state", "state store"),
        ("timer", "timer pause"),
    ]
    root = run_span_id(run.id)
    assert all(s.parent_span_id == root for s in spans if s.kind != "run")
    states = {s.span_id: s.name for s in spans if s.kind == "state"}
    children = [s for s in spans if s.kind == "run" and s.run_id != run.id]
    assert sorted(states[s.parent_span_id] for s in children) == ["state first", "state last"]
    store = by_name(spans)["state store"]
    assert store.start < store.end


def test_a_traceparent_is_joined_and_a_bad_one_refused(td: Daemon) -> None:
    parent = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
    with td.client() as c:
        run = c.submit("tr-child", {}, wait=True, timeout_s=60, traceparent=parent)
        assert run.trace_id == CALLER_TRACE and run.parent_span_id == CALLER_SPAN
        assert run.output["trace_id"] == CALLER_TRACE
        span = by_name(c.trace(run.id).spans)["run tr-child"]
        assert span.parent_span_id == CALLER_SPAN
        for bad, why in [
            (f"01-{CALLER_TRACE}-{CALLER_SPAN}-01", "version"),
            (f"00-{'0' * 32}-{CALLER_SPAN}-01", "trace id"),
            (f"00-{CALLER_TRACE.upper()}-{CALLER_SPAN}-01", "trace id"),
            (f"00-{CALLER_TRACE}-{'0' * 16}-01", "parent id"),
            (f"00-{CALLER_TRACE}-{CALLER_SPAN}-1", "flags"),
            (f"00-{CALLER_TRACE}-{CALLER_SPAN}", "parts"),
            ("x" * 200, ""),
        ]:
            with pytest.raises(RpcError) as err:
                c.submit("tr-child", {}, traceparent=bad)
            if why:
                assert err.value.type == "validation", bad
                assert err.value.details["field"] == "traceparent"
            assert "traceparent" in err.value.message, bad
            assert why in err.value.message, bad
        # Nothing was accepted for the refused ones.
        assert len(c.list_runs(task="tr-child").runs) == 1


def test_a_command_gets_the_trace_in_its_environment(td: Daemon) -> None:
    with td.client() as c:
        run = c.submit("tr-shell", {}, wait=True, timeout_s=60)
        assert run.status == "succeeded", run.error
        text = " ".join(line.text for line in c.logs(run.id).lines)
    assert f"trace={run.trace_id}" in text
    assert f"tp=00-{run.trace_id}-{run_span_id(run.id)}-01" in text


def test_the_trace_survives_a_restart(td: Daemon) -> None:
    with td.client() as c:
        run = c.submit("tr-parent", {}, wait=True, timeout_s=60)
        before = c.trace(run.id)
    td.restart()
    with td.client() as c:
        after = c.trace(run.id)
    assert [(s.span_id, s.start, s.end) for s in after.spans] == [
        (s.span_id, s.start, s.end) for s in before.spans
    ]


def test_seqctl_draws_the_waterfall(td: Daemon) -> None:
    with td.client() as c:
        run = c.submit("tr-parent", {"fail": True}, wait=True, timeout_s=60)
    done = td.seqctl("runs", "trace", run.id)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"trace {run.trace_id}")
    assert "\x1b[" not in done.stdout  # a pipe: no colours
    assert all(len(line) <= 100 for line in lines)
    drawn = {line[2:].strip().split("  ")[0]: line for line in lines[2:] if line[2:].strip()}
    assert drawn["run tr-parent"].startswith("✗")
    assert drawn["step explode"].startswith("✗")
    assert drawn["step prepare"].startswith(" ")
    # Children are indented under their parent: the child run under the step.
    assert any(line[2:].startswith("    run tr-child") for line in lines)
    assert any("asked to fail" in line for line in lines)
    as_json = td.seqctl("runs", "trace", run.id, "--json")
    assert as_json.returncode == 0
    assert '"span_id"' in as_json.stdout and '"parent_span_id"' in as_json.stdout
    missing = td.seqctl("runs", "trace", "0123456789abcdef01234567")
    assert missing.returncode == 4 and "no run" in missing.stderr
