"""Adopting someone's child run (issue 18, item 1): a parent's child keys are
predictable (the parent's id, its attempt, the journal position), so another user
submits a run under that key first. Keys are scoped by who submits, and a parent only
ever takes a run that is its own child."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from seqd.engine.job import ActiveJob
from seqd.errors import Conflict
from seqd.model.runs import Run
from seqd.model.scopes import child_scope
from seqd.model.timeutil import now
from tests.security.conftest import OTHER, User, seqctl_as, task_folder

PARENT = """
def run(ctx):
    ctx.wait_signal("go")
    return ctx.run_task("hello", {"name": "parent"})
"""


def test_a_key_taken_by_another_user_is_not_the_childs(
    open_daemon: Any, other: User, tmp_path: Path
) -> None:
    tasks = task_folder(tmp_path / "tasks", "parent", '{"type": "python"}', PARENT)
    d = open_daemon(f'[access.users]\n{OTHER} = "operator"\n', tasks=[tasks])
    with d.client() as c:
        parent = c.submit("parent", {})
    # The attacker reads the parent's id from the run list and takes every key its
    # children could use, with a run of its own that answers something else.
    listed = json.loads(seqctl_as(other, d.socket, "--json", "runs", "ls").stdout)
    assert parent.id in [r["id"] for r in listed["runs"]]
    for index in range(1, 6):
        done = seqctl_as(
            other, d.socket, "run", "hello", "-i", "name=attacker", "--detach",
            "--idempotency-key", f"{parent.id}.1:py.1.{index}",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    with d.client() as c:
        for _ in range(400):  # until it waits for the signal (no event to await here)
            if c.get_run(parent.id).status == "suspended":
                break
            time.sleep(0.05)
        c.signal(parent.id, "go")
        done = c.wait(parent.id, timeout_s=60)
        assert done.status == "succeeded", done.error
        assert done.output == "Hello, parent."
        children = c.list_runs(parent_id=parent.id).runs
        assert [r.task for r in children] == ["hello"]
        assert children[0].submitted_by == 0
        assert children[0].idempotency_scope == child_scope(parent.id)
        attackers = [r for r in c.list_runs(task="hello").runs if r.submitted_by == other.uid]
        assert len(attackers) == 5 and all(r.parent_id is None for r in attackers)
        assert {r.idempotency_scope for r in attackers} == {f"uid:{other.uid}"}


class _Engine:
    """Stands in for the engine where the real one cannot be made to answer so: a
    run that holds a child's key but is another run's child (a store edited by hand,
    or a key made before scopes)."""

    def __init__(self, answer: Run) -> None:
        self.answer = answer
        self.storage: Any = None

    async def submit(self, task: str, data: dict[str, Any], **kw: Any) -> Run:
        raise Conflict("taken", {"id": self.answer.id})

    async def get(self, run_id: str) -> Run:
        return self.answer


def test_a_parent_adopts_only_its_own_children() -> None:
    parent = Run(id="aa" * 12, task="p", status="running", created_at=now())
    foreign = Run(id="bb" * 12, task="hello", status="succeeded", created_at=now(),
                  parent_id="cc" * 12, output="not yours")  # fmt: skip
    job = ActiveJob(parent, None, "/nonexistent", None, _Engine(foreign))  # type: ignore[arg-type]
    with pytest.raises(Conflict) as info:
        asyncio.run(job.start_child("hello", {}, key="py.1.1"))
    assert info.value.details["parent_id"] == "cc" * 12
    own = Run(id="dd" * 12, task="hello", status="queued", created_at=now(), parent_id=parent.id)
    job = ActiveJob(parent, None, "/nonexistent", None, _Engine(own))  # type: ignore[arg-type]
    assert asyncio.run(job.start_child("hello", {}, key="py.1.1")) == own
