"""Run references (prefixes, ``last``, ``last:TASK``), root runs with child counts, and
batches (``runs.submit_many``), against a real daemon over its socket."""

from __future__ import annotations

import pytest

from seqd.client import RpcError
from seqd.rpc.params import MAX_BATCH_RUNS


def unique_prefix(run_id: str, others: list[str]) -> str:
    """The shortest prefix (4+) of ``run_id`` that no other id starts with."""
    for n in range(4, len(run_id) + 1):
        if not any(o != run_id and o.startswith(run_id[:n]) for o in others):
            return run_id[:n]
    return run_id


def test_run_references(daemon) -> None:
    with daemon.client() as c:
        first = c.submit("fail", wait=True, timeout_s=60)
        echo = c.submit("pyecho", {"value": 1}, wait=True, timeout_s=60)
        newest = c.submit("noop", wait=True, timeout_s=60)
        flow = c.submit("fanout", {"texts": ["a b", "c"]}, wait=True, timeout_s=60)
        assert flow.status == "succeeded", flow.error
        ids = [r.id for r in c.iter_runs(limit=1000)]

        # `last` is the newest run without a parent (the flow, not its last state);
        # `last:TASK` the newest of that task at any depth.
        assert c.get_run("last").id == flow.id
        assert c.get_run("last:noop").id == newest.id
        assert c.get_run("last:fail").id == first.id
        assert c.get_run("last:pyecho").id == echo.id
        child = c.get_run("last:fanout-summary")
        assert child.parent_id == flow.id

        # A unique prefix names its run in every method that takes one.
        prefix = unique_prefix(first.id, ids)
        assert c.get_run(prefix).id == first.id
        assert c.wait(prefix, timeout_s=5).id == first.id
        assert c.logs(prefix).finished
        assert c.steps(unique_prefix(flow.id, ids)).steps
        retried = c.retry(prefix)
        assert retried.retry_of == first.id and retried.id not in ids
        assert c.get_run(first.id).id == first.id  # a full id is exactly that run

        # Ids made in one moment share their first digits: 4 of them are ambiguous.
        with pytest.raises(RpcError) as caught:
            c.get_run(first.id[:4])
        err = caught.value
        assert err.type == "validation" and err.details["field"] == "id"
        assert err.details["reason"] == "ambiguous"
        candidates = err.details["candidates"]
        assert 2 <= len(candidates) <= 10
        assert all(x["id"].startswith(first.id[:4]) for x in candidates)
        assert [x["id"] for x in candidates] == sorted((x["id"] for x in candidates), reverse=True)
        assert first.id[:4] in err.message

        with pytest.raises(RpcError) as caught:
            c.get_run("ffff")
        assert caught.value.type == "not_found"
        with pytest.raises(RpcError) as caught:
            c.cancel("f" * 24)
        assert caught.value.type == "not_found" and "f" * 24 in caught.value.message
        with pytest.raises(RpcError) as caught:
            c.get_run("last:noopp")
        assert caught.value.type == "not_found"
        assert caught.value.details["did_you_mean"][0] == "noop"
        with pytest.raises(RpcError) as caught:
            c.get_run("last:slow")
        assert caught.value.type == "not_found" and "no runs" in caught.value.message
        for bad in ("abc", "last:", "LAST", "01a2-"):
            with pytest.raises(RpcError) as caught:
                c.get_run(bad)
            assert caught.value.code == -32602, bad  # the wire contract refuses it


def test_roots_and_child_counts(daemon) -> None:
    with daemon.client() as c:
        plain = c.submit("noop", wait=True, timeout_s=60)
        flow = c.submit("fanout", {"texts": ["a", "b c", "d"]}, wait=True, timeout_s=60)
        assert flow.status == "succeeded", flow.error
        roots = c.list_runs(roots_only=True, count_children=True)
        assert [r.id for r in roots.runs] == [flow.id, plain.id]
        assert roots.children == {flow.id: 4}  # three map items and the summary
        everything = c.list_runs(limit=100)
        assert len(everything.runs) == 6 and everything.children == {}
        children = c.list_runs(parent_id="last", count_children=True)
        assert {r.parent_id for r in children.runs} == {flow.id}
        assert len(children.runs) == 4 and children.children == {}


def test_submit_many(daemon) -> None:
    with daemon.client() as c:
        inputs = [{"value": i} for i in range(300)]
        answer = c.submit_many("pyecho", inputs, priority=3)
        assert answer.created == 300 and len(set(answer.ids)) == 300
        outputs = [c.wait(run_id, timeout_s=60) for run_id in answer.ids]
        assert [r.status for r in outputs] == ["succeeded"] * 300
        assert [r.output["input"] for r in outputs] == inputs
        assert {r.priority for r in outputs} == {3}
        assert all(r.parent_id is None for r in outputs)

        keys = [f"batch:{i}" for i in range(3)]
        once = c.submit_many("pyecho", [{"value": "k"}] * 3, idempotency_keys=keys)
        again = c.submit_many("pyecho", [{"value": "k"}] * 3, idempotency_keys=keys)
        assert once.created == 3 and again.created == 0 and again.ids == once.ids


def test_submit_many_is_all_or_nothing(daemon) -> None:
    with daemon.client() as c:
        before = len(list(c.iter_runs(limit=1000)))
        bad = [{"seconds": 0}] * 5 + [{"seconds": "soon"}] + [{"seconds": 0}] * 5
        with pytest.raises(RpcError) as caught:
            c.submit_many("slow", bad)
        err = caught.value
        assert err.type == "validation" and err.details["index"] == 5
        assert err.details["field"] == "inputs[5].seconds", err.details
        assert err.message.startswith("inputs[5].seconds: ")

        c.submit("pyecho", {"value": "held"}, idempotency_key="taken")
        with pytest.raises(RpcError) as caught:
            c.submit_many("pyecho", [{"value": 1}, {"value": 2}], idempotency_keys=[None, "taken"])
        assert caught.value.type == "conflict" and caught.value.details["index"] == 1
        with pytest.raises(RpcError) as caught:
            c.submit_many("pyecho", [{"value": 1}], idempotency_keys=["a", "b"])
        assert caught.value.details["field"] == "idempotency_keys"
        with pytest.raises(RpcError) as caught:
            c.submit_many("pyecho", [{"value": 1}, {"value": 1}], idempotency_keys=["a", "a"])
        assert caught.value.type == "conflict"
        with pytest.raises(RpcError) as caught:
            c.submit_many("nope", [{}])
        assert caught.value.type == "not_found"
        with pytest.raises(RpcError) as caught:
            c.submit_many("pyecho", [])
        assert caught.value.code == -32602
        with pytest.raises(RpcError) as caught:
            c.submit_many("noop", [{}] * (MAX_BATCH_RUNS + 1))
        assert caught.value.code == -32602 and caught.value.details["field"] == "inputs"
        assert len(list(c.iter_runs(limit=1000))) == before + 1  # only the keyed run
