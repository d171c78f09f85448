"""The durable ``ctx`` operations on the worker's side, against a scripted daemon.

The daemon end is a script: the journal it holds for the attempt and the answers it
gives, in order. What is checked here is the worker's part — replay without a round
trip, one journal fetch per execution, what is sent, suspension and nondeterminism.
The real daemon end is exercised in tests/builtin/test_python_durable.py.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from seqd.runtime.worker.context import Context
from seqd.runtime.worker.durable import (
    ChildFailed,
    StepFailed,
    Suspend,
    ToolFailed,
    to_epoch,
)
from seqd.runtime.worker.replay import Nondeterminism
from seqd.runtime.workerpool.ops import (
    Answer,
    ChildArgs,
    Entry,
    OpError,
    StepArgs,
    ToolArgs,
    WaitArgs,
    encode_entries,
)


class Daemon:
    """A scripted daemon end: ``journal`` entries and queued ``answers``."""

    def __init__(self, journal: list[Entry] | None = None, *answers: Answer | None) -> None:
        self.journal = journal or []
        self.answers = list(answers)
        self.calls: list[tuple[str, Any]] = []

    def log(self, stream: str, text: str) -> None:
        pass

    def call(self, op: str, args: Any) -> Any:
        # What the worker sends goes through msgpack on the real channel: so here.
        wire = msgspec.msgpack.decode(msgspec.msgpack.encode(args))
        self.calls.append((op, args))
        if op == "journal":
            assert wire is None
            return encode_entries(self.journal)
        if op == "step":
            return None
        answer = self.answers.pop(0)
        return None if answer is None else msgspec.msgpack.decode(msgspec.msgpack.encode(answer))

    def ops(self) -> list[str]:
        return [op for op, _ in self.calls]


def ctx_for(daemon: Daemon, attempt: int = 1) -> Context:
    return Context(
        run_id="r",
        task="t",
        attempt=attempt,
        input={},
        work_dir="/w",
        task_dir="/t",
        link=daemon,
        max_bytes=1000,
    )


def done(index: int, kind: str, name: str, **data: Any) -> Entry:
    return Entry(index, kind, name, "succeeded", data)


# -- ctx.step ----------------------------------------------------------------------------


def test_step_runs_once_records_its_json_and_returns_the_json_form() -> None:
    daemon = Daemon()
    ctx = ctx_for(daemon)
    calls: list[int] = []

    def effect(a: int, b: int = 0) -> tuple[int, ...]:
        calls.append(a)
        return (a, b)

    assert ctx.step("one", effect, 1, b=2) == [1, 2]
    assert ctx.step("two", effect, 3) == [3, 0]
    assert calls == [1, 3]
    assert daemon.ops() == ["journal", "step", "step"]  # the journal is fetched once
    first = daemon.calls[1][1]
    assert isinstance(first, StepArgs)
    assert (first.index, first.name, first.result, first.error) == (1, "one", b"[1,2]", None)
    assert daemon.calls[2][1].index == 2


def test_recorded_steps_replay_without_calling_fn_or_the_daemon() -> None:
    journal = [
        done(1, "step", "a", result={"x": 1}),
        Entry(2, "step", "b", "failed", {"error": {"type": "exception", "message": "E: no"}}),
    ]
    daemon = Daemon(journal)
    ctx = ctx_for(daemon)

    def never() -> None:
        raise AssertionError("a journaled step ran again")

    assert ctx.step("a", never) == {"x": 1}
    with pytest.raises(StepFailed) as failed:
        ctx.step("b", never)
    assert (failed.value.type, failed.value.message) == ("exception", "E: no")
    assert ctx.step("c", lambda: "new") == "new"
    assert daemon.ops() == ["journal", "step"]
    assert daemon.calls[1][1].index == 3


def test_a_failing_step_is_recorded_and_raised_as_step_failed() -> None:
    daemon = Daemon()
    ctx = ctx_for(daemon)

    def boom() -> None:
        raise KeyError("k")

    with pytest.raises(ctx.StepFailed) as info:
        ctx.step("boom", boom)
    assert info.value.type == "exception"
    assert info.value.details == {"exception": "builtins.KeyError"}
    assert isinstance(info.value.__cause__, KeyError)
    sent = daemon.calls[1][1]
    assert sent.result is None and sent.error.message == "KeyError: 'k'"


def test_a_result_that_is_not_json_or_too_big_is_a_recorded_failure() -> None:
    daemon = Daemon()
    ctx = ctx_for(daemon)
    with pytest.raises(StepFailed) as not_json:
        ctx.step("obj", object)
    assert not_json.value.type == "invalid_output"
    with pytest.raises(StepFailed) as too_big:
        ctx.step("big", lambda: "x" * 2000)
    assert too_big.value.type == "invalid_output" and "limit is 1000" in too_big.value.message
    assert [c[1].error.type for c in daemon.calls[1:]] == ["invalid_output", "invalid_output"]


def test_durable_operations_cannot_nest_or_leave_the_main_thread() -> None:
    ctx = ctx_for(Daemon())
    with pytest.raises(StepFailed) as nested:
        ctx.step("outer", lambda: ctx.step("inner", lambda: 1))
    assert "inside a ctx.step" in nested.value.message
    errors: list[BaseException] = []

    def other_thread() -> None:
        try:
            ctx.step("x", lambda: 1)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert isinstance(errors[0], RuntimeError) and "main thread" in str(errors[0])
    with pytest.raises(TypeError):
        ctx.step("nope", 5)  # type: ignore[call-overload]


# -- nondeterminism ------------------------------------------------------------------------


def test_nondeterminism_sticks_even_if_the_code_catches_it() -> None:
    daemon = Daemon([done(1, "step", "charge", result=None)])
    ctx = ctx_for(daemon)
    try:
        ctx.tool("charge", amount=1)
    except BaseException as exc:  # what careless task code might do
        caught = exc
    assert isinstance(caught, Nondeterminism)
    assert caught.details["journal"] == {"kind": "step", "name": "charge"}
    with pytest.raises(Nondeterminism):
        ctx.step("later", lambda: 1)
    assert ctx._durable.broken is caught
    assert daemon.ops() == ["journal"]


def test_earlier_attempts_are_not_the_journal_of_this_one() -> None:
    # The daemon hands over only this attempt's entries; an empty journal means every
    # operation is new even though attempt 1 recorded some.
    daemon = Daemon()
    ctx = ctx_for(daemon, attempt=2)
    assert ctx.step("a", lambda: 1) == 1
    assert daemon.ops() == ["journal", "step"]


# -- suspension ------------------------------------------------------------------------------


def test_a_sleep_not_yet_due_suspends_and_stays_suspended() -> None:
    due = time.time() + 60
    daemon = Daemon(None, Answer("suspend", due=due, wake_at=due))
    ctx = ctx_for(daemon)
    with pytest.raises(Suspend) as info:
        try:
            ctx.sleep(60)
        except Exception:  # must not catch it
            pytest.fail("Suspend was caught by except Exception")
    assert (info.value.wake_at, info.value.waiting_for) == (due, None)
    sent = daemon.calls[1][1]
    assert isinstance(sent, WaitArgs)
    assert (sent.signal, sent.seconds, sent.due, sent.known) == (None, 60.0, None, False)
    with pytest.raises(Suspend):
        ctx.step("after", lambda: 1)
    assert ctx._durable.suspended is not None


def test_a_recorded_sleep_returns_when_due_and_suspends_before_without_asking() -> None:
    past, future = time.time() - 1, time.time() + 30
    daemon = Daemon(
        [
            Entry(1, "sleep", "sleep", "scheduled", {"due": past}),
            Entry(2, "sleep", "sleep", "scheduled", {"due": future}),
        ]  # fmt: skip
    )
    ctx = ctx_for(daemon)
    ctx.sleep(1000)  # the recorded due time counts, not the new argument
    with pytest.raises(Suspend) as info:
        ctx.sleep_until(datetime.now(UTC))
    assert info.value.wake_at == future
    assert daemon.ops() == ["journal"]


def test_sleep_arguments_are_checked_before_anything_is_recorded() -> None:
    daemon = Daemon()
    ctx = ctx_for(daemon)
    for bad in (-1, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            ctx.sleep(bad)
    with pytest.raises(TypeError):
        ctx.sleep("5")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ctx.sleep(True)
    with pytest.raises(ValueError, match="no timezone"):
        ctx.sleep_until(datetime(2030, 1, 1))
    with pytest.raises(ValueError, match="RFC 3339"):
        ctx.sleep_until("tomorrow")
    assert daemon.calls == []


def test_sleep_until_takes_datetimes_rfc3339_and_epochs() -> None:
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert to_epoch(when) == when.timestamp()
    assert to_epoch("2030-01-02T03:04:05Z") == when.timestamp()
    assert to_epoch("2030-01-02T05:04:05+02:00") == when.timestamp()
    assert to_epoch(1234.5) == 1234.5
    daemon = Daemon(None, Answer("return", due=1.0))
    ctx_for(daemon).sleep_until(when - timedelta(days=20000))
    assert daemon.calls[1][1].due == (when - timedelta(days=20000)).timestamp()


# -- signals ---------------------------------------------------------------------------------


def test_wait_signal_counts_waits_per_name_and_replays_payloads() -> None:
    journal = [
        Entry(1, "signal", "go", "received", {"payload": {"n": 1}, "seq": 4}),
        Entry(2, "signal", "go", "waiting", {"due": 99.0}),
    ]
    daemon = Daemon(journal, Answer("return", value=b'{"n":2}'))
    ctx = ctx_for(daemon)
    assert ctx.wait_signal("go") == {"n": 1}
    assert ctx.wait_signal("go", timeout_s=5) == {"n": 2}
    sent = daemon.calls[1][1]
    assert (sent.index, sent.signal, sent.ordinal, sent.due, sent.known) == (2, "go", 2, 99.0, True)


def test_wait_signal_timeout_raises_timeout_error_then_and_on_replay() -> None:
    error = {"type": "timeout", "message": "no signal 'go' came before the timeout"}
    ctx = ctx_for(Daemon([Entry(1, "signal", "go", "timeout", {"error": error})]))
    with pytest.raises(TimeoutError, match="before the timeout"):
        ctx.wait_signal("go", 1)
    fresh = Daemon(None, Answer("raise", error=OpError("timeout", error["message"])))
    with pytest.raises(TimeoutError):
        ctx_for(fresh).wait_signal("go", 0)
    waiting = Daemon(None, Answer("suspend", waiting_for="signal:go", wake_at=5.0))
    with pytest.raises(Suspend) as info:
        ctx_for(waiting).wait_signal("go", 10)
    assert info.value.waiting_for == "signal:go"
    with pytest.raises(TypeError):
        ctx_for(Daemon()).wait_signal("")


# -- tools and child runs --------------------------------------------------------------------


def test_tool_sends_json_params_and_raises_recorded_failures() -> None:
    failed = Entry(2, "tool", "kv.get", "failed", {"error": {"type": "not_found", "message": "m"}})
    daemon = Daemon([done(1, "tool", "kv.set", result={"ok": 1}), failed],
                    Answer("return", value=b"[3]"))  # fmt: skip
    ctx = ctx_for(daemon)
    assert ctx.tool("kv.set", key="a", value=1) == {"ok": 1}
    with pytest.raises(ToolFailed) as info:
        ctx.tool("kv.get", key="a")
    assert info.value.type == "not_found"
    assert ctx.tool("http.request", url="x") == [3]
    sent = daemon.calls[1][1]
    assert isinstance(sent, ToolArgs)
    assert (sent.index, sent.name, sent.params) == (3, "http.request", b'{"url":"x"}')
    with pytest.raises(TypeError, match="not JSON"):
        ctx.tool("kv.set", value=object())


def test_run_task_returns_output_or_raises_child_failed_with_the_child_id() -> None:
    failed = Entry(2, "child", "b", "failed",
                   {"child_id": "c2", "error": {"type": "boom", "message": "m"}})  # fmt: skip
    daemon = Daemon(
        [done(1, "child", "a", child_id="c1", result=7), failed],
        Answer("suspend", child_id="c3", waiting_for="run:c3"),
    )
    ctx = ctx_for(daemon)
    assert ctx.run_task("a") == 7
    with pytest.raises(ChildFailed) as info:
        ctx.run_task("b", {"x": 1})
    assert (info.value.type, info.value.child_id) == ("boom", "c2")
    with pytest.raises(Suspend) as waiting:
        ctx.run_task("c", {"y": 2})
    assert waiting.value.waiting_for == "run:c3"
    sent = daemon.calls[1][1]
    assert isinstance(sent, ChildArgs)
    assert (sent.index, sent.task, sent.input, sent.wait, sent.known) == (
        3,
        "c",
        b'{"y":2}',
        True,
        False,
    )
    with pytest.raises(TypeError):
        ctx_for(Daemon()).run_task("a", [1])  # type: ignore[arg-type]


def test_start_task_gives_a_handle_whose_result_waits_like_run_task() -> None:
    daemon = Daemon(
        None,
        Answer("return", value=b'"k1"', child_id="k1"),
        Answer("return", value=b'{"done":true}', child_id="k1"),
    )
    ctx = ctx_for(daemon)
    handle = ctx.start_task("kid", {"a": 1})
    assert (handle.id, handle.task, handle.index) == ("k1", "kid", 1)
    assert ctx.step("between", lambda: 2) == 2
    assert handle.result() == {"done": True}
    start, join = daemon.calls[1][1], daemon.calls[3][1]
    assert (start.wait, start.known) == (False, False)
    assert (join.index, join.wait, join.known, join.input) == (1, True, True, b'{"a":1}')


def test_a_started_child_is_found_again_on_replay() -> None:
    daemon = Daemon(
        [Entry(1, "child", "kid", "started", {"child_id": "k9"})],
        Answer("suspend", child_id="k9", waiting_for="run:k9"),
    )
    ctx = ctx_for(daemon)
    handle = ctx.start_task("kid")
    assert handle.id == "k9"
    with pytest.raises(Suspend):
        handle.result()
    assert daemon.ops() == ["journal", "child"]
