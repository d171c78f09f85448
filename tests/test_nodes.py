"""``nodes.list`` and ``seqctl nodes`` on a store that is not shared (SQLite): the one
daemon is its only node; ``seqctl status`` says the store is not shared. (Several
nodes on PostgreSQL: plugins/seqd-postgres/tests/test_postgres_nodes.py.)"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Daemon


def test_a_single_daemon_is_its_store_s_only_node(daemon: Daemon) -> None:
    with daemon.client() as c:
        listed = c.nodes()
        run = c.submit("noop", {}, wait=True, timeout_s=30)
        assert run.status == "succeeded"
        assert c.status().cluster is None
    assert not listed.shared
    assert [n.info.pid for n in listed.nodes] == [daemon.proc.pid if daemon.proc else 0]
    (node,) = listed.nodes
    assert node.alive and node.info.id == listed.node_id and node.info.workers >= 1
    assert node.info.pid != os.getpid()
    shown = daemon.seqctl("nodes")
    assert shown.returncode == 0, shown.stderr
    assert "(this one)" in shown.stdout and "not shared" in shown.stdout
    status = daemon.seqctl("status")
    assert "cluster" in status.stdout and "holds its store alone" in status.stdout
