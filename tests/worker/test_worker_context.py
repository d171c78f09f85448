"""``ctx``: attributes, ``log`` line splitting, ``call`` pass-through."""

from __future__ import annotations

from typing import Any

import pytest

from seqd.runtime.worker.context import CallError, Context


class Link:
    def __init__(self) -> None:
        self.logged: list[tuple[str, str]] = []
        self.calls: list[tuple[str, Any]] = []

    def log(self, stream: str, text: str) -> None:
        self.logged.append((stream, text))

    def call(self, op: str, args: Any) -> Any:
        self.calls.append((op, args))
        if op == "fail":
            raise CallError("nope", "refused", {"why": 1})
        return {"echo": args}


def make() -> tuple[Context, Link]:
    link = Link()
    ctx = Context(
        run_id="r1",
        task="t",
        attempt=3,
        input={"a": 1},
        work_dir="/w",
        task_dir="/t",
        link=link,
    )
    return ctx, link


def test_attributes_and_repr() -> None:
    ctx, _ = make()
    assert (ctx.run_id, ctx.task, ctx.attempt, ctx.input) == ("r1", "t", 3, {"a": 1})
    assert (ctx.work_dir, ctx.task_dir) == ("/w", "/t")
    assert "r1" in repr(ctx)
    with pytest.raises(AttributeError):
        ctx.other = 1  # type: ignore[attr-defined]


def test_log_joins_values_and_splits_lines() -> None:
    ctx, link = make()
    ctx.log("a", 1, None)
    ctx.log("x", "y", sep=",")
    ctx.log("one\ntwo\n")
    ctx.log()
    assert link.logged == [
        ("log", "a 1 None"),
        ("log", "x,y"),
        ("log", "one"),
        ("log", "two"),
        ("log", ""),
    ]


def test_call_passes_through_and_raises_call_errors() -> None:
    ctx, link = make()
    assert ctx.call("echo", [1]) == {"echo": [1]}
    assert ctx.call("echo") == {"echo": None}
    with pytest.raises(CallError) as info:
        ctx.call("fail", {})
    assert (info.value.type, info.value.message, info.value.details) == (
        "nope",
        "refused",
        {"why": 1},
    )
    assert link.calls == [("echo", [1]), ("echo", None), ("fail", {})]
