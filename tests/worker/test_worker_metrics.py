"""``ctx.metric`` on the worker's side: checked at once, sent without waiting, and not
sent again where the code replays what an earlier execution of the attempt ran."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from seqd.runtime.worker.context import CallError, Context
from seqd.runtime.workerpool.messages import Metric, pack
from seqd.runtime.workerpool.ops import Answer, Entry, encode_entries


class Daemon:
    """A scripted daemon end: the attempt's journal, and the metrics it is sent."""

    def __init__(self, journal: list[Entry] | None = None) -> None:
        self.journal = journal or []
        self.metrics: list[tuple[str, float, str, dict[str, str]]] = []
        self.ops: list[str] = []

    def log(self, stream: str, text: str) -> None:
        pass

    def metric(self, name: str, value: float, kind: str, labels: dict[str, str]) -> None:
        pack(Metric(name=name, value=value, kind=kind, labels=labels))  # it is a valid frame
        self.metrics.append((name, value, kind, labels))

    def call(self, op: str, args: Any) -> Any:
        self.ops.append(op)
        if op == "journal":
            return encode_entries(self.journal)
        if op == "wait":
            return msgspec.msgpack.decode(msgspec.msgpack.encode(Answer("return", due=0.0)))
        return None


def ctx_for(daemon: Daemon) -> Context:
    return Context(
        run_id="r", task="t", attempt=1, input={}, work_dir="/w", task_dir="/t", link=daemon
    )


def test_metrics_are_sent_with_their_kind_and_labels() -> None:
    daemon = Daemon()
    ctx = ctx_for(daemon)
    ctx.metric("rows", 10, table="users")
    ctx.metric("queue", 3, kind="gauge")
    ctx.metric("batch_seconds", 0.25, "histogram", stage="load")
    ctx.metric("hits")
    assert daemon.metrics == [
        ("rows", 10.0, "counter", {"table": "users"}),
        ("queue", 3.0, "gauge", {}),
        ("batch_seconds", 0.25, "histogram", {"stage": "load"}),
        ("hits", 1.0, "counter", {}),
    ]
    assert daemon.ops == ["journal"]  # one look at the journal per execution, no answer waited for


@pytest.mark.parametrize(
    ("args", "kwargs", "why"),
    [
        (("bad name",), {}, "must match"),
        (("seqd_runs",), {}, "daemon's own"),
        (("n", -1), {}, "only go up"),
        (("n", float("inf")), {"kind": "gauge"}, "finite"),
        (("n", "1"), {}, "must be a number"),
        (("n", 1, "summary"), {}, "kind must be"),
        (("n",), {"task": "x"}, "reserved"),
        (("n",), {"shard": 3}, "must be a string"),
    ],
)
def test_a_bad_metric_raises_at_once(
    args: tuple[Any, ...], kwargs: dict[str, Any], why: str
) -> None:
    daemon = Daemon()
    with pytest.raises(ValueError, match=why):
        ctx_for(daemon).metric(*args, **kwargs)
    assert daemon.metrics == []


def test_a_resumed_execution_does_not_count_again() -> None:
    # The first execution counted "before", slept (op 1, due in the past by now) and
    # was suspended; the resumed one replays that part, then goes on.
    journal = [Entry(1, "sleep", "sleep", "scheduled", {"due": 1.0})]
    daemon = Daemon(journal)
    ctx = ctx_for(daemon)
    ctx.metric("before")
    ctx.sleep(0)  # replayed: its due time has passed
    ctx.metric("after")
    assert [m[0] for m in daemon.metrics] == ["after"]


def test_a_first_execution_counts_everything() -> None:
    daemon = Daemon()
    ctx = ctx_for(daemon)
    ctx.metric("before")
    ctx.step("s", lambda: 1)
    ctx.metric("after")
    assert [m[0] for m in daemon.metrics] == ["before", "after"]


def test_without_a_journal_metrics_are_still_sent() -> None:
    class NoJournal(Daemon):
        def call(self, op: str, args: Any) -> Any:
            self.ops.append(op)
            raise CallError("not_durable", "a folder tool has no journal")

    daemon = NoJournal()
    ctx = ctx_for(daemon)
    ctx.metric("a")
    ctx.metric("b")
    assert [m[0] for m in daemon.metrics] == ["a", "b"]
    assert daemon.ops == ["journal"]  # asked once, not for every metric
