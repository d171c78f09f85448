"""The replay matcher: operations numbered in code order, matched by kind and name."""

from __future__ import annotations

import pytest

from seqd.runtime.worker.replay import Nondeterminism, Replay, describe
from seqd.runtime.workerpool.ops import Entry, journal_key, parse_key


def test_keys_carry_the_attempt_and_the_op_number() -> None:
    assert journal_key(2, 7) == "py.2.7"
    assert parse_key("py.2.7", 2) == 7
    assert parse_key("py.2.7", 1) is None
    assert parse_key("py.12.7", 1) is None
    assert parse_key("py.1.x", 1) is None
    assert parse_key("state#1.1", 1) is None


def test_new_operations_are_numbered_in_order() -> None:
    replay = Replay(1, [])
    assert replay.next("step", "a") is None
    assert replay.next("tool", "b") is None
    assert replay.index == 2


def test_recorded_operations_come_back_merged_per_number() -> None:
    entries = [
        Entry(1, "child", "count", "started", {"child_id": "c1", "task": "count"}),
        Entry(2, "step", "s", "succeeded", {"result": 5}),
        Entry(1, "child", "count", "succeeded", {"child_id": "c1", "result": [1]}),
    ]
    replay = Replay(1, entries)
    first = replay.next("child", "count")
    assert first is not None
    assert (first.status, first.data) == (
        "succeeded",
        {"child_id": "c1", "task": "count", "result": [1]},
    )
    second = replay.next("step", "s")
    assert second is not None and second.data == {"result": 5}
    assert replay.next("step", "t") is None  # past the journal: new


def test_a_different_name_or_kind_is_nondeterminism() -> None:
    entries = [Entry(1, "step", "charge", "succeeded", {"result": None})]
    with pytest.raises(Nondeterminism) as renamed:
        Replay(3, entries).next("step", "refund")
    assert renamed.value.details == {
        "attempt": 3,
        "op": 1,
        "journal": {"kind": "step", "name": "charge"},
        "code": {"kind": "step", "name": "refund"},
    }
    assert "ctx.step('refund')" in renamed.value.message
    assert "ctx.step('charge')" in renamed.value.message
    with pytest.raises(Nondeterminism) as other_kind:
        Replay(1, entries).next("tool", "charge")
    assert "ctx.tool('charge') where the journal records ctx.step('charge')" in str(
        other_kind.value
    )
    assert not isinstance(other_kind.value, Exception)  # except Exception cannot hide it


def test_signal_waits_are_counted_per_name() -> None:
    replay = Replay(1, [])
    assert [replay.ordinal("a"), replay.ordinal("b"), replay.ordinal("a")] == [1, 1, 2]


def test_note_updates_what_an_operation_recorded() -> None:
    replay = Replay(1, [])
    replay.next("child", "t")
    replay.note(Entry(1, "child", "t", "started", {"child_id": "x"}))
    got = replay.get(1)
    assert got is not None and got.data == {"child_id": "x"}


def test_describe_names_operations_as_written() -> None:
    assert describe("sleep", "sleep") == "ctx.sleep()"
    assert describe("signal", "go") == "ctx.wait_signal('go')"
    assert describe("child", "t") == "ctx.run_task/start_task('t')"
