from __future__ import annotations

from seqd.engine.queue import RunQueue
from seqd.model.ids import IdGenerator


def test_priority_then_fifo() -> None:
    q = RunQueue()
    q.push("a", "t")
    q.push("b", "t", priority=5)
    q.push("c", "t")
    order = [q.pop(lambda t: False) for _ in range(3)]
    assert [o[0] for o in order if o] == ["b", "a", "c"]
    assert q.pop(lambda t: False) is None


def test_saturated_task_does_not_block_others() -> None:
    q = RunQueue()
    q.push("a1", "a")
    q.push("a2", "a")
    q.push("b1", "b")
    assert q.pop(lambda t: t == "a") == ("b1", "b")
    assert q.pop(lambda t: t == "a") is None
    assert len(q) == 2
    q.release("a")
    assert q.pop(lambda t: False) == ("a1", "a")


def test_remove() -> None:
    q = RunQueue()
    q.push("a", "t")
    q.push("b", "t")
    assert q.remove("a")
    assert not q.remove("zz")
    assert "a" not in q
    assert q.pop(lambda t: False) == ("b", "t")


def test_ids_sort_by_time_and_are_unique() -> None:
    gen = IdGenerator()
    ids = [gen.new() for _ in range(20000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 24 for i in ids)


def test_timestamps_are_fixed_width_and_round_trip() -> None:
    from seqd.model.timeutil import format_ts, parse_ts

    for epoch in (0.0, 1.5, 1764069000.000001, 1764069000.999999, 4102444800.25):
        text = format_ts(epoch)
        assert len(text) == 27 and text.endswith("Z")
        assert abs(parse_ts(text) - epoch) < 2e-6
    assert format_ts(1764069001.0) > format_ts(1764069000.999999)
