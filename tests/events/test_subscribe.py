"""events.subscribe on a real daemon: live events, replay from a cursor (across a
reconnect and a restart), the seam between the two, trees, and bad requests."""

from __future__ import annotations

import socket
import threading
from typing import Any

from tests.events.support import TASKS, Raw, runs_of, topic

STATUSES = ["queued", "running", "succeeded"]


def succeeded(run_id: str) -> Any:
    return lambda e: (
        e["topic"] == "run" and e["run"]["id"] == run_id and e["run"]["status"] == "succeeded"
    )


def test_events_follow_the_answer_and_show_every_transition(make_daemon) -> None:
    d = make_daemon(tasks=[TASKS])
    raw = Raw(d.socket)
    reply = raw.call("events.subscribe", {"topics": ["run"], "task": "quick"})
    assert raw.early == []  # the answer comes before any event
    sub = reply["result"]["id"]
    assert reply["result"]["cursor"]
    live = raw.events(topic("live"))
    assert [e["subscription"] for e in live] == [sub]
    with d.client() as c:
        c.submit("noop", wait=True)  # another task: filtered out
        run = c.submit("quick", {"n": 1}, wait=True)
    events = raw.events(succeeded(run.id))
    assert runs_of(events) == [(run.id, s) for s in STATUSES]
    assert all(e["subscription"] == sub for e in events)
    assert len({e["cursor"] for e in events}) == 3
    assert events[-1]["run"]["output"] == 1


def test_one_connection_holds_several_subscriptions(make_daemon) -> None:
    d = make_daemon(tasks=[TASKS])
    raw = Raw(d.socket)
    quick = raw.call("events.subscribe", {"topics": ["run"], "task": "quick"})["result"]["id"]
    noop = raw.call("events.subscribe", {"topics": ["run"], "task": "noop"})["result"]["id"]
    with d.client() as c:
        runs = {quick: c.submit("quick", wait=True).id, noop: c.submit("noop", wait=True).id}
    waiting = set(runs)

    def both_ended(event: dict[str, Any]) -> bool:
        if event["topic"] == "run" and event["run"]["status"] == "succeeded":
            waiting.discard(event["subscription"])
        return not waiting

    events = raw.events(both_ended)
    for sub in (quick, noop):
        mine = [e for e in events if e["subscription"] == sub]
        assert [e["topic"] for e in mine] == ["live", "run", "run", "run"], sub
        assert {e["run"]["id"] for e in mine[1:]} == {runs[sub]}


def test_a_client_back_with_its_cursor_misses_nothing_even_after_a_restart(make_daemon) -> None:
    d = make_daemon(tasks=[TASKS])
    with d.client() as c:
        before = c.submit("quick", wait=True)
        first = Raw(d.socket)
        first.call("events.subscribe", {"topics": ["run"], "task": "quick"})
        first.events(topic("live"))
        seen = c.submit("quick", {"n": 1}, wait=True)
        cursor = first.events(succeeded(seen.id))[-1]["cursor"]
        first.close()  # away while runs go on
        missed = [c.submit("quick", {"n": i}, wait=True).id for i in range(2, 7)]

        # Back, while more runs are submitted: the replay, then live, each run's
        # transitions in order, none twice, the end of every run exactly once.
        back = Raw(d.socket)
        more: list[str] = []

        def submit_more() -> None:
            with d.client() as other:
                for i in range(20):
                    more.append(other.submit("quick", {"n": 100 + i}, wait=True).id)

        busy = threading.Thread(target=submit_more)
        busy.start()
        back.call("events.subscribe", {"topics": ["run"], "task": "quick", "since": cursor})
        busy.join()
        last = c.submit("quick", {"n": 999}, wait=True)
        events = back.events(succeeded(last.id))
    replayed = events[: next(i for i, e in enumerate(events) if e["topic"] == "live")]
    assert runs_of(replayed)[: len(missed)] == [(r, "succeeded") for r in missed]
    seen_runs = runs_of(events)
    assert (before.id, "succeeded") not in seen_runs and (seen.id, "succeeded") not in seen_runs
    for run_id in [*missed, *more, last.id]:
        statuses = [s for r, s in seen_runs if r == run_id]
        assert statuses == STATUSES[len(STATUSES) - len(statuses) :], (run_id, statuses)
    assert len(seen_runs) == len(set(seen_runs))

    # Positions are kept in storage: the same cursor replays the same runs after a restart.
    d.restart()
    again = Raw(d.socket)
    again.call("events.subscribe", {"topics": ["run"], "task": "quick", "since": cursor})
    replayed = again.events(topic("live"))
    assert [r for r, _ in runs_of(replayed)] == [*missed, *more, last.id]
    assert {s for _, s in runs_of(replayed)} == {"succeeded"}
    with d.client() as c:
        after = c.submit("quick", wait=True)
    assert runs_of(again.events(succeeded(after.id))) == [(after.id, s) for s in STATUSES]


def test_a_tree_s_log_lines_come_with_each_run_s_task(make_daemon, tmp_path) -> None:
    d = make_daemon()
    with d.client() as c:
        flow = c.submit(
            "etl", {"csv": "name,amount\na,1\nb,2", "out": str(tmp_path / "o")}, wait=True
        )
        assert flow.status == "succeeded"
        children = list(c.iter_runs(parent_id=flow.id))
    raw = Raw(d.socket)
    raw.call("events.subscribe", {"topics": ["log", "run"], "root_id": flow.id, "since": "0"})
    events = raw.events(topic("live"))
    logs = [e for e in events if e["topic"] == "log"]
    assert {e["task"] for e in logs} == {"etl-extract", "etl-load"}
    assert {e["root_id"] for e in logs} == {flow.id}
    by_run: dict[str, list[int]] = {}
    for e in logs:
        by_run.setdefault(e["run_id"], []).extend(line["seq"] for line in e["lines"])
    for seqs in by_run.values():
        assert seqs == list(range(1, len(seqs) + 1))
    ran = [r for r, _ in runs_of(events)]
    assert sorted(ran) == sorted([flow.id, *(child.id for child in children)])
    assert ran[-1] == flow.id  # the flow ends after its states
    for run_id, seqs in by_run.items():  # a run's lines come before its end
        assert events.index(next(e for e in logs if e["run_id"] == run_id)) < next(
            i for i, e in enumerate(events) if e["topic"] == "run" and e["run"]["id"] == run_id
        )


def test_tail_and_from_time_start_with_some_of_the_lines(make_daemon) -> None:
    d = make_daemon(tasks=[TASKS])
    with d.client() as c:
        run = c.submit("lines-shell", {"n": 50}, wait=True)
        lines = c.logs(run.id).lines
    since = lines[29].ts  # lines read together share a stamp: the first so stamped
    first_since = next(line.seq for line in lines if line.ts >= since)
    for params, first in (({"tail": 5}, 46), ({"from_time": since}, first_since), ({}, None)):
        raw = Raw(d.socket)
        raw.call("events.subscribe", {"topics": ["log"], "run_id": run.id, **params})
        events = raw.events(topic("live"))
        got = [line["seq"] for e in events if e["topic"] == "log" for line in e["lines"]]
        assert got == ([] if first is None else list(range(first, 51))), params
        raw.close()


def test_runs_are_named_by_references_too(make_daemon) -> None:
    """``run_id`` and ``root_id`` take what every method taking a run takes: ``last``,
    ``last:TASK``, a unique prefix; events carry the full id."""
    d = make_daemon(tasks=[TASKS])
    with d.client() as c:
        run = c.submit("lines-shell", {"n": 3}, wait=True)
    for ref in ("last", "last:lines-shell", run.id[:20]):
        for field in ("run_id", "root_id"):
            raw = Raw(d.socket)
            raw.call("events.subscribe", {"topics": ["log"], field: ref, "tail": 3})
            events = [e for e in raw.events(topic("live")) if e["topic"] == "log"]
            assert {e["run_id"] for e in events} == {run.id}, (ref, field)
            assert [line["seq"] for e in events for line in e["lines"]] == [1, 2, 3]
            raw.close()
    error = Raw(d.socket).call("events.subscribe", {"topics": ["log"], "run_id": "last:nope"})
    assert error["error"]["data"]["details"]["field"] == "run_id"


def test_a_half_closed_connection_keeps_its_subscription(make_daemon) -> None:
    d = make_daemon(tasks=[TASKS])
    raw = Raw(d.socket)
    raw.request("events.subscribe", {"topics": ["run"], "task": "quick"})
    raw.sock.shutdown(socket.SHUT_WR)  # as `... | socat - UNIX-CONNECT:` does
    assert "result" in raw.message()
    raw.events(topic("live"))
    with d.client() as c:
        run = c.submit("quick", wait=True)
    assert runs_of(raw.events(succeeded(run.id)))[-1] == (run.id, "succeeded")


def test_unsubscribe_ends_it_and_only_its_connection_can(make_daemon) -> None:
    d = make_daemon(tasks=[TASKS])
    raw, other = Raw(d.socket), Raw(d.socket)
    sub = raw.call("events.subscribe", {"topics": ["run"]})["result"]["id"]
    raw.events(topic("live"))
    assert other.call("events.unsubscribe", {"id": sub})["error"]["data"]["type"] == "not_found"
    stopped = raw.call("events.unsubscribe", {"id": sub})["result"]
    assert stopped["cursor"]
    with d.client() as c:
        c.submit("quick", wait=True)
    assert raw.call("daemon.ping")["result"] == "pong"  # and no event came before it


def test_shutdown_tells_each_subscriber_where_to_resume(make_daemon) -> None:
    d = make_daemon(tasks=[TASKS])
    raw = Raw(d.socket)
    raw.call("events.subscribe", {"topics": ["run"]})
    with d.client() as c:
        run = c.submit("quick", wait=True)
    last = raw.events(succeeded(run.id))[-1]
    d.stop()
    cut = raw.events(topic("cut"))[-1]
    assert cut["reason"] == "shutdown" and cut["cursor"] == last["cursor"]


BAD = [
    ({"topics": ["runs"]}, "topics", "validation"),
    ({"topics": ["run", "run"]}, "topics", "validation"),
    ({"topics": ["log"]}, "run_id", "validation"),
    ({"topics": ["log"], "root_id": "0" * 24}, "root_id", "not_found"),
    ({"topics": ["run"], "status": ["failed"], "since": "c1.garbage!"}, "since", "validation"),
    ({"topics": ["run"], "since": "c1.AAAA"}, "since", "validation"),
    ({"topics": ["log"], "run_id": "0" * 24, "tail": 5, "since": "0"}, "tail", "validation"),
    ({"topics": ["step"], "status": ["failed"], "run_id": "0" * 24}, "status", "validation"),
    ({"topics": ["run"], "tail": -1}, "tail", "validation"),
    ({"topics": ["run"], "tail": 3}, "tail", "validation"),
    ({"topics": ["run"], "from_time": "yesterday"}, "from_time", "validation"),
    ({"topics": []}, "topics", "validation"),
    ({"topics": ["run"], "color": "red"}, "color", "validation"),
]


def test_bad_subscriptions_name_the_field(make_daemon) -> None:
    d = make_daemon(tasks=[TASKS])
    raw = Raw(d.socket)
    for params, field, kind in BAD:
        error = raw.call("events.subscribe", params)["error"]
        assert error["data"]["type"] == kind, (params, error)
        assert error["data"]["details"]["field"] == field, (params, error)
    assert raw.call("daemon.ping")["result"] == "pong"  # and it goes on serving


def test_a_tree_is_named_by_its_root(make_daemon, tmp_path) -> None:
    d = make_daemon()
    with d.client() as c:
        flow = c.submit("etl", {"csv": "name,amount\na,1", "out": str(tmp_path / "o")}, wait=True)
        child = next(iter(c.iter_runs(parent_id=flow.id)))
    raw = Raw(d.socket)
    error = raw.call("events.subscribe", {"topics": ["log"], "root_id": child.id})["error"]
    assert error["data"]["details"] == {"field": "root_id", "root_id": flow.id}


def test_subscriptions_per_connection_are_bounded(make_daemon, tmp_path) -> None:
    config = tmp_path / "seqd.toml"
    config.write_text("[events]\nmax_subscriptions = 2\n")
    d = make_daemon(tasks=[TASKS], env={"SEQD_CONFIG": str(config)})
    raw = Raw(d.socket)
    for _ in range(3):
        raw.request("events.subscribe", {"topics": ["run"]})
    answers = []
    while len(answers) < 3:  # the live events of the first two come in between
        message = raw.message()
        if "id" in message:
            answers.append(message)
    assert ["result" in a for a in answers] == [True, True, False]
    error = answers[2]
    assert error["error"]["data"]["type"] == "rate_limited"
    assert error["error"]["data"]["details"] == {"limit": 2}
