"""What a node shows of the whole cluster: events and run counts of runs other nodes
write.

Real daemons on one PostgreSQL schema (the nodes of ``test_postgres_nodes``): a
subscriber on one node, runs submitted to and executed by the others under load, a
subscription cut midway and resumed from its cursor, and ``seqctl runs logs -f`` on one
node following a run that prints on another.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict

import pytest
from test_postgres_nodes import Nodes, nodes  # noqa: F401 -- the fixture

from seqd.client import Client
from seqd.model.events import RunEvent

CHATTY = {
    "type": "shell",
    "command": ["sh", "-c", "for i in 1 2 3 4 5 6; do echo line-$i; sleep 0.2; done"],
    "inputs": {"type": "object", "properties": {}},
}


class Watcher(threading.Thread):
    """A subscriber to ``run`` events of ``tally`` on one node, from ``since``, until
    ``stop_after`` runs succeeded (or, with ``cut_after``, that many events)."""

    def __init__(
        self, socket: str, stop_after: int, since: str | None = None, cut_after: int = 0
    ) -> None:
        super().__init__(daemon=True)
        self.socket, self.stop_after, self.since, self.cut_after = (
            socket,
            stop_after,
            since,
            cut_after,
        )
        self.live = threading.Event()
        self.events: list[RunEvent] = []
        self.cursor: str | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            ended = 0
            with Client(self.socket, timeout=120) as c:
                for event in c.subscribe(["run"], task="tally", since=self.since, timeout_s=40):
                    if event.topic == "live":
                        self.live.set()
                        continue
                    self.events.append(event)
                    self.cursor = event.cursor
                    ended += event.run.status == "succeeded"
                    if ended >= self.stop_after or len(self.events) == self.cut_after:
                        return
        except BaseException as exc:
            self.error = exc
        finally:
            self.live.set()

    def statuses(self) -> dict[str, list[str]]:
        seen: dict[str, list[str]] = defaultdict(list)
        for event in self.events:
            seen[event.run.id].append(event.run.status)
        return seen


pytestmark = pytest.mark.xdist_group("postgres")


def test_status_counts_the_runs_of_every_node(nodes: Nodes) -> None:  # noqa: F811
    """Runs submitted to and held by node B (suspended there, then ended by signals
    sent through A) are in A's ``daemon.status`` counts, as in B's."""
    a, b = nodes.daemons[0], nodes.daemons[1]
    a.start()
    b.start()
    with Client(a.socket, timeout=60) as ca, Client(b.socket, timeout=60) as cb:
        before = ca.status().runs
        ids = [cb.submit("gated", {}).id for _ in range(3)]
        nodes.wait_for(
            lambda: all(cb.get_run(i).status == "suspended" for i in ids), 30, "gated runs wait"
        )
        assert {cb.get_run(i).node for i in ids} == {cb.status().node}
        nodes.wait_for(
            lambda: ca.status().runs["suspended"] == before["suspended"] + 3, 10, "A counts them"
        )
        for run_id in ids:
            ca.signal(run_id, "go", {"ok": 1})
        for run_id in ids:
            assert ca.wait(run_id, timeout_s=30).status == "succeeded"
        nodes.wait_for(
            lambda: (
                ca.status().runs["succeeded"] == before["succeeded"] + 3
                and ca.status().runs["suspended"] == before["suspended"]
            ),
            10,
            "A counts them ended",
        )
        assert cb.status().runs == ca.status().runs


def test_a_subscriber_on_one_node_sees_every_transition_of_every_node(nodes: Nodes) -> None:  # noqa: F811
    """300 runs submitted in batches to nodes B and C while a node A subscriber
    watches: it sees every run go queued, running, succeeded, each exactly once, in
    that order, runs executed on B and C included. A second subscriber, cut after 200
    events and resumed from its last cursor, misses none and repeats none."""
    total = 300
    nodes.start()
    a, b, c = nodes.daemons
    watcher = Watcher(a.socket, total)
    cut = Watcher(a.socket, total, cut_after=200)
    for w in (watcher, cut):
        w.start()
        assert w.live.wait(30)
    ids: list[str] = []
    with Client(b.socket, timeout=60) as cb, Client(c.socket, timeout=60) as cc:
        for i in range(0, total, 50):
            client = cb if i % 100 == 0 else cc
            ids += client.submit_many("tally", [{"counter": str(nodes.counter)}] * 50).ids
    cut.join(120)
    assert cut.error is None and len(cut.events) == 200 and cut.cursor is not None
    before = cut.statuses()
    resumed = Watcher(a.socket, total - sum("succeeded" in s for s in before.values()), cut.cursor)
    resumed.start()
    watcher.join(60)
    assert watcher.error is None, watcher.error
    seen = watcher.statuses()
    assert set(seen) == set(ids), f"{len(set(ids) - set(seen))} runs never seen on A"
    wrong = {i: s for i, s in seen.items() if s != ["queued", "running", "succeeded"]}
    assert not wrong, f"{len(wrong)} runs seen otherwise, e.g. {list(wrong.items())[:3]}"
    executed_on = {e.run.node.rsplit("-", 2)[0] for e in watcher.events if e.run.node}
    assert executed_on - {"n0"}, f"no run executed on B or C: {executed_on}"
    # The cut subscriber, resumed (before the runs ended): every run reaches succeeded,
    # no status comes twice, and what each run shows only moves on.
    resumed.join(60)
    assert resumed.error is None, resumed.error
    order = ["queued", "running", "succeeded"]
    after = resumed.statuses()
    for run_id in ids:
        shown = before.get(run_id, []) + after.get(run_id, [])
        assert shown and shown[-1] == "succeeded", (run_id, shown)
        assert len(set(shown)) == len(shown), (run_id, shown)
        assert shown == sorted(shown, key=order.index), (run_id, shown)


def test_seqctl_follows_the_log_of_a_run_on_another_node(nodes: Nodes) -> None:  # noqa: F811
    """``seqctl runs logs ID -f`` on node A prints every line of a run that executes on
    node B as it prints them, once each, in order, and ends with the run."""
    chatty = nodes.base / "tasks" / "chatty"
    chatty.mkdir()
    (chatty / "config.json").write_text(json.dumps(CHATTY))
    a, b = nodes.daemons[0], nodes.daemons[1]
    a.start()
    b.start()
    with Client(b.socket, timeout=60) as cb:
        run = cb.submit("chatty", {})  # B has free slots: it holds the run and runs it
        followed = a.seqctl("runs", "logs", run.id, "-f")
        assert followed.returncode == 0, followed.stderr
        lines = [line.split()[-1] for line in followed.stdout.splitlines() if "line-" in line]
        assert lines == [f"line-{i}" for i in range(1, 7)], followed.stdout
        ended = cb.get_run(run.id)
        assert ended.status == "succeeded" and ended.node == cb.status().node
