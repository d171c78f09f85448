"""A real daemon with the plugin on, exporting over OTLP/HTTP to a receiver this test
runs: the protobuf payload, decoded with ``opentelemetry-proto``, holds the run's spans
in the caller's trace, each under the right parent, with seqd's attributes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from otlp_receiver import Receiver, StartDaemon, write_task

from seqd.client import Client

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = "00f067aa0ba902b7"
PARENT_CODE = """
def boom():
    raise ValueError("no")


def run(ctx):
    ctx.step("prepare", lambda: 1)
    try:
        ctx.step("bad", boom)
    except ctx.StepFailed:
        pass
    ctx.tool("kv.set", key="k", value=1)
    return ctx.run_task("otel-child", {})
"""

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def daemon(tmp_path: Path, start_daemon: StartDaemon) -> str:
    tasks = tmp_path / "tasks"
    write_task(tasks, "otel-parent", PARENT_CODE)
    write_task(tasks, "otel-child", "def run(ctx):\n    return ctx.trace_id\n")
    socket, _ = start_daemon(OTEL_BSP_SCHEDULE_DELAY="50", OTEL_METRICS_EXPORTER="none")
    return socket


def hexid(raw: bytes) -> str:
    return raw.hex()


def test_spans_arrive_over_otlp_http_in_the_callers_trace(daemon: str, receiver: Receiver) -> None:
    with Client(daemon, timeout=60) as c:
        run = c.submit("otel-parent", {}, wait=True, timeout_s=60,
                       traceparent=f"00-{TRACE}-{CALLER}-01")  # fmt: skip
        assert run.status == "succeeded", run.error
        assert run.output == TRACE
    wanted = {"run otel-parent", "run otel-child", "step prepare", "step bad",
              "tool kv.set", "child otel-child", "tool.call kv.set"}  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        with receiver.lock:
            got = {span.name: (resource, span) for resource, span in receiver.spans}
        if wanted <= set(got):
            break
        assert time.monotonic() < deadline, sorted(got)
        time.sleep(0.05)
    assert receiver.paths == {"/v1/traces"}
    spans = {name: span for name, (_, span) in got.items()}
    resource = got["run otel-parent"][0]
    assert resource["service.name"] == "seqd-under-test"
    assert {hexid(s.trace_id) for s in spans.values()} == {TRACE}
    root = spans["run otel-parent"]
    assert hexid(root.parent_span_id) == CALLER

    def parent(name: str) -> str:
        return hexid(spans[name].parent_span_id)

    for name in ("step prepare", "step bad", "tool kv.set", "child otel-child"):
        assert parent(name) == hexid(root.span_id), name
    assert parent("run otel-child") == hexid(spans["child otel-child"].span_id)
    assert parent("tool.call kv.set") == hexid(spans["tool kv.set"].span_id)
    assert spans["step bad"].status.code == 2  # STATUS_CODE_ERROR
    assert spans["step prepare"].status.code == 0
    attributes = {a.key: a.value for a in root.attributes}
    assert attributes["seqd.run.id"].string_value == run.id
    assert attributes["seqd.task"].string_value == "otel-parent"
    assert root.end_time_unix_nano > root.start_time_unix_nano
    # Storage calls made for the runs are spans of the trace too, under their run.
    storage = [s for _, s in receiver.spans if s.name.startswith("storage ")]
    assert storage
    run_spans = {hexid(root.span_id), hexid(spans["run otel-child"].span_id)}
    assert {hexid(s.parent_span_id) for s in storage} <= run_spans
    assert any(s.name == "storage append_steps" for s in storage)
