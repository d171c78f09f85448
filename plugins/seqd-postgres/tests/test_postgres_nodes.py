"""Several real daemons (nodes) on one PostgreSQL schema: one shared queue.

Every run is counted by its side effects (a line per execution in a file, written in a
journaled step) and by its journal in the store. The faults are real: SIGKILL of a
node mid-load, SIGSTOP of a node past its lease then SIGCONT, and the nodes' server
sessions killed (``pg_terminate_backend``) in the middle of claims. The nodes' sessions
carry an ``application_name`` of this test's own, so that only they are killed on the
shared server.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pgdaemon import Daemon
from psycopg import sql
from seqd_postgres import PostgresBackend
from seqd_postgres import queries as q

from seqd.client import Client
from seqd.model.runs import Run
from seqd.testing.storage import new_run, opened, run_async

pytestmark = pytest.mark.xdist_group("postgres")

PgMaker = Callable[..., PostgresBackend]
LEASE_S = 3.0

TALLY = """
import time


def run(ctx, counter: str, steps: int = 1, pause: float = 0.0):
    def mark(i):
        with open(counter, "a") as f:
            f.write(f"{ctx.run_id} {i}\\n")
        return i

    for i in range(steps):
        ctx.step(f"mark-{i}", mark, i)
        if pause:
            time.sleep(pause)
    return steps
"""


ONE_AT_A_TIME = """
import time


def run(ctx, counter: str):
    with open(counter, "a") as f:
        f.write(f"{ctx.run_id} start {time.time()}\\n")
    time.sleep(0.2)
    with open(counter, "a") as f:
        f.write(f"{ctx.run_id} end {time.time()}\\n")
"""

GATED = """
def run(ctx):
    return ctx.wait_signal("go", timeout_s=60)
"""


def write_tasks(base: Path) -> Path:
    tasks = base / "tasks"
    (tasks / "gated").mkdir(parents=True)
    (tasks / "gated" / "code.py").write_text(GATED)
    (tasks / "gated" / "config.json").write_text(json.dumps({"type": "python"}))
    (tasks / "single").mkdir()
    (tasks / "single" / "code.py").write_text(ONE_AT_A_TIME)
    (tasks / "single" / "config.json").write_text(json.dumps({"type": "python", "concurrency": 1}))
    (tasks / "tally").mkdir()
    (tasks / "tally" / "code.py").write_text(TALLY)
    (tasks / "tally" / "config.json").write_text(json.dumps({"type": "python"}))
    (tasks / "hold").mkdir()
    (tasks / "hold" / "config.json").write_text(
        json.dumps(
            {
                "type": "shell",
                "command": ["sh", "-c", "echo started; exec sleep 60"],
                "inputs": {"type": "object", "properties": {}},
            }
        )
    )
    return tasks


class Nodes:
    """Up to three daemons sharing ``schema``; their sessions are named ``app``."""

    def __init__(self, base: Path, dsn: str, schema: str, admin: Callable[[], Any]) -> None:
        self.base = base
        self.schema = schema
        self.admin = admin
        self.app = f"seqd_{schema}"
        sep = "&" if "?" in dsn else "?"
        named = json.dumps(f"{dsn}{sep}application_name={self.app}")
        tasks = write_tasks(base)
        self.counter = base / "counter.txt"
        self.daemons = []
        for n in range(3):
            home = base / f"node{n}"
            home.mkdir()
            config = home / "seqd.toml"
            config.write_text(
                f'workers = 4\nnode = "n{n}"\n'
                f"[backends.postgres]\ndsn = {named}\n"
                f"schema = {json.dumps(schema)}\nlease_s = {LEASE_S}\n"
            )
            self.daemons.append(Daemon(home, config, tasks=(tasks,)))

    def start(self) -> None:
        for d in self.daemons:
            d.start()

    def query(self, text: str, *params: Any) -> list[tuple[Any, ...]]:
        with self.admin() as conn:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
            return list(conn.execute(text, params or None).fetchall())

    def statuses(self) -> Counter[str]:
        return Counter(
            {s: n for s, n in self.query("SELECT status, count(*) FROM runs GROUP BY 1")}
        )

    def wait_for(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                failed = self.query("SELECT id, data FROM runs WHERE status = 'failed' LIMIT 3")
                raise AssertionError(
                    f"timed out: {what} ({self.statuses()}; failed: {failed})\n{self.logs()}"
                )
            time.sleep(0.1)

    def executions(self) -> Counter[tuple[str, str]]:
        text = self.counter.read_text() if self.counter.exists() else ""
        return Counter(tuple(line.split()) for line in text.splitlines())  # type: ignore[misc]

    def journal_duplicates(self) -> list[tuple[Any, ...]]:
        return self.query(
            "SELECT run_id, data::json ->> 'key', count(*) FROM steps"
            " GROUP BY 1, 2 HAVING count(*) > 1"
        )

    def logs(self) -> str:
        return "\n".join(f"--- node {i}\n{d.logs()[-4000:]}" for i, d in enumerate(self.daemons))

    def stop(self) -> None:
        for d in self.daemons:
            if d.proc is not None and d.proc.poll() is None:
                d.proc.send_signal(signal.SIGCONT)
                d.proc.kill()
                d.proc.wait()


@pytest.fixture
def nodes(
    tmp_path: Path, pg_dsn: str, pg_schema: str, pg_admin: Callable[[], Any]
) -> Iterator[Nodes]:
    group = Nodes(tmp_path, pg_dsn, pg_schema, pg_admin)
    yield group
    group.stop()


def submit_across(nodes: Nodes, total: int, batch: int = 100, **input: Any) -> list[str]:
    ids: list[str] = []
    clients = [
        Client(d.socket, timeout=60) for d in nodes.daemons if d.proc and d.proc.poll() is None
    ]
    try:
        for i in range(0, total, batch):
            c = clients[(i // batch) % len(clients)]
            inputs = [{"counter": str(nodes.counter), **input}] * min(batch, total - i)
            ids += c.submit_many("tally", inputs).ids
    finally:
        for c in clients:
            c.close()
    return ids


def test_runs_across_three_nodes_run_once_and_a_killed_node_s_runs_finish_elsewhere(
    nodes: Nodes,
) -> None:
    nodes.start()
    first = submit_across(nodes, 1000)
    nodes.wait_for(lambda: nodes.statuses()["succeeded"] == 1000, 90, "1000 runs")
    done = nodes.executions()
    assert len(done) == 1000 and set(done.values()) == {1}, "a run executed twice"
    assert {run for run, _ in done} == set(first)
    ran_on = Counter(r[0] for r in nodes.query("SELECT data::json ->> 'node' FROM runs"))
    assert len(ran_on) == 3, f"every node takes work: {ran_on}"

    # Now SIGKILL one node in the middle of a second load: its runs finish elsewhere.
    second = submit_across(nodes, 1000, steps=3, pause=0.01)
    victim = nodes.daemons[1]
    nodes.wait_for(lambda: nodes.statuses()["succeeded"] >= 1300, 90, "the load to get going")
    assert victim.proc is not None
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait()
    nodes.wait_for(lambda: nodes.statuses()["succeeded"] == 2000, 120, "every run to finish")
    assert nodes.journal_duplicates() == []
    done = nodes.executions()
    second_marks = {key: n for key, n in done.items() if key[0] in set(second)}
    assert len(second_marks) == 3000, "every step of every run ran"
    doubled = [key for key, n in second_marks.items() if n > 1]
    # Only a step cut between its effect and its journal entry may run again: one per
    # run the killed node was running (4 workers).
    assert len(doubled) <= 4, doubled
    taken = nodes.query("SELECT count(*) FROM runs WHERE lease_epoch > 1")[0][0]
    assert taken >= 1, "the killed node's runs were taken over"


def test_a_paused_node_past_its_lease_does_not_write_again(nodes: Nodes) -> None:
    a, b = nodes.daemons[0], nodes.daemons[1]
    a.start()
    with Client(a.socket, timeout=60) as c:
        run = c.submit("tally", {"counter": str(nodes.counter), "steps": 40, "pause": 0.1})
    nodes.wait_for(lambda: len(nodes.executions()) >= 3, 30, "the run to get going on A")
    b.start()
    assert a.proc is not None
    a.proc.send_signal(signal.SIGSTOP)
    try:
        with Client(b.socket, timeout=60) as c:
            final = c.wait(run.id, timeout_s=60)
        assert final.status == "succeeded", final.error
        assert final.node is not None and final.node.startswith(final.node.split("-")[0])
    finally:
        a.proc.send_signal(signal.SIGCONT)
    # A wakes up holding a lease it lost: it must notice, and write nothing more.
    nodes.wait_for(lambda: "lost its lease" in a.logs(), 20, "A to notice it lost its lease")
    time.sleep(1.0)
    with Client(a.socket, timeout=60) as c:
        assert c.get_run(run.id).status == "succeeded"
    assert nodes.journal_duplicates() == []
    steps = nodes.query("SELECT count(*) FROM steps WHERE run_id = %s", run.id)[0][0]
    assert steps == 40
    assert nodes.query("SELECT status FROM runs WHERE id = %s", run.id) == [("succeeded",)]


def test_sessions_killed_mid_claim_lose_nothing(nodes: Nodes) -> None:
    """The nodes' server sessions (pool, listener, writer) are killed again and again
    while they claim and run: every run still ends, once."""
    nodes.start()
    ids = submit_across(nodes, 600, batch=50, steps=2, pause=0.01)
    kills = 0
    for _ in range(12):
        with nodes.admin() as conn:
            kills += len(
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = %s AND pid <> pg_backend_pid()",
                    (nodes.app,),
                ).fetchall()
            )
        time.sleep(0.5)
    assert kills > 0
    nodes.wait_for(lambda: nodes.statuses()["succeeded"] == 600, 90, "every run")
    done = nodes.executions()
    assert {run for run, _ in done} == set(ids)
    assert nodes.journal_duplicates() == []


def test_cancel_wait_and_phantom_runs_from_any_node(nodes: Nodes, pg_make: PgMaker) -> None:
    a, b = nodes.daemons[0], nodes.daemons[1]
    a.start()
    b.start()
    with Client(a.socket, timeout=60) as ca, Client(b.socket, timeout=60) as cb:
        listed = cb.nodes()
        assert listed.shared and len(listed.nodes) == 2
        assert {n.info.name for n in listed.nodes} == {"n0", "n1"}
        assert all(n.alive and n.info.workers == 4 for n in listed.nodes)
        assert listed.node_id in {n.info.id for n in listed.nodes}
        shown = a.seqctl("nodes")
        assert shown.returncode == 0 and "(this one)" in shown.stdout, shown.stderr
        assert "n1-" in shown.stdout
        status = a.seqctl("status")
        assert "cluster" in status.stdout and "this one is n0-" in status.stdout, status.stdout
        held = ca.submit("hold", {})
        nodes.wait_for(lambda: cb.get_run(held.id).status == "running", 30, "hold to start")
        where = cb.get_run(held.id).node
        other = cb if where and where.startswith(ca.status().node) else ca
        cancelled = other.cancel(held.id)
        assert cancelled.status == "cancelled"
        # A run stored queued behind every node's back (as by a node that died right
        # after its create committed) is found and run, without a restart.
        # A signal sent through one node reaches a run suspended on the other.
        gated = ca.submit("gated", {})
        nodes.wait_for(lambda: cb.get_run(gated.id).status == "suspended", 30, "gated waits")
        suspended_on = cb.get_run(gated.id).node or ""
        sender = cb if suspended_on.startswith(ca.status().node) else ca
        sender.signal(gated.id, "go", {"ok": 1})
        woken = ca.wait(gated.id, timeout_s=30)
        assert woken.status == "succeeded" and woken.output == {"ok": 1}, woken
        phantom = new_run(task="tally", input={"counter": str(nodes.counter)})

        async def store() -> None:
            async with opened(pg_make) as backend:
                await backend.create_run(phantom)

        run_async(store())
        ended = ca.wait(phantom.id, timeout_s=30)
        assert ended.status == "succeeded", ended


def test_a_create_whose_commit_went_unanswered_is_resolved_before_answering(
    pg_make: PgMaker,
) -> None:
    """Item 12: the insert commits but its answer is lost (as when the connection
    breaks just after the commit). ``create_run`` learns the outcome before it
    answers: the run is reported created, and stored once."""

    async def scenario() -> tuple[Run, int, int]:
        async with opened(pg_make) as backend:
            assert backend.writer is not None
            real = backend.writer.submit
            lost: list[str] = []

            def answer_lost(query: str, params: Any, value: bool = False) -> Any:
                done = real(query, params, value)
                if query != q.INSERT_RUN or lost:
                    return done

                async def committed_then_cut() -> Any:
                    await done
                    lost.append(params[-2])  # the id (then the priority)
                    raise psycopg.OperationalError("server closed the connection unexpectedly")

                return asyncio.ensure_future(committed_then_cut())

            backend.writer.submit = answer_lost  # type: ignore[method-assign]
            run = new_run(task="t")
            stored, position = await backend.create_run(run)
            assert lost == [run.id], "the first answer was lost"
            rows = await backend._fetch_all("SELECT count(*) FROM runs WHERE id = %s", (run.id,))
            return stored, position, int(rows[0][0])

    stored, position, copies = run_async(scenario())
    assert position > 0, "reported as created: the commit happened"
    assert copies == 1
    assert stored.status == "queued"


def test_a_schedule_fires_once_per_time_with_two_nodes(nodes: Nodes) -> None:
    """Both nodes' schedulers see the schedule; each nominal time makes one run (its
    idempotency key is the schedule and the time), wherever it then runs."""
    a, b = nodes.daemons[0], nodes.daemons[1]
    a.start()
    b.start()
    with Client(a.socket, timeout=60) as c:
        c.create_schedule(
            "tick", "tally", every="1s", input={"counter": str(nodes.counter)}, overlap="allow"
        )
    nodes.wait_for(
        lambda: nodes.query("SELECT count(*) FROM runs WHERE schedule = 'tick'")[0][0] >= 5,
        30,
        "five fires",
    )
    times = [r[0] for r in nodes.query("SELECT data::json ->> 'scheduled_for' FROM runs")]
    assert len(times) == len(set(times)), "a fire was doubled"


def test_a_task_s_concurrency_limit_holds_across_nodes(nodes: Nodes) -> None:
    """Runs of a task limited to one at a time, submitted to three nodes at once: their
    start and end times (written by the runs) never overlap."""
    nodes.start()
    ids = []
    for d in nodes.daemons * 2:
        with Client(d.socket, timeout=60) as c:
            ids.append(c.submit("single", {"counter": str(nodes.counter)}).id)
    nodes.wait_for(lambda: nodes.statuses()["succeeded"] == len(ids), 60, "the runs")
    events = sorted(
        (float(ts), kind)
        for _, kind, ts in (line.split() for line in nodes.counter.read_text().splitlines())
    )
    running = most = 0
    for _, kind in events:
        running += 1 if kind == "start" else -1
        most = max(most, running)
    assert most == 1, f"{most} runs of a task limited to 1 ran at once"
