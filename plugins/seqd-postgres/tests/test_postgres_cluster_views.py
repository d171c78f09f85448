"""What a node shows of the whole cluster: run counts of runs other nodes write.

Real daemons on one PostgreSQL schema (the nodes of ``test_postgres_nodes``).
"""

from __future__ import annotations

import pytest
from test_postgres_nodes import Nodes, nodes  # noqa: F401 -- the fixture

from seqd.client import Client

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
