"""Peer credentials decide who may do what: a real second user over the real socket.

The interpreter lives under /root here, unreachable for other users, so the second
user speaks raw JSON-RPC through ``socat`` run with ``setpriv`` as ``nobody``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # only for annotations: 'conftest' may name another package's module
    from conftest import Daemon


NOBODY = 65534
pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv") or not shutil.which("socat"),
    reason="needs root, setpriv and socat to act as a second user",
)


def as_nobody(sock: str, *requests: dict[str, Any]) -> dict[int, dict[str, Any]]:
    payload = "".join(json.dumps({"jsonrpc": "2.0", **r}) + "\n" for r in requests)
    out = subprocess.run(
        [
            "setpriv",
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            "--clear-groups",
            "socat",
            "-t",
            "10",
            "-",
            f"UNIX-CONNECT:{sock}",
        ],
        input=payload,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    answers = [json.loads(line) for line in out.stdout.splitlines()]
    return {a["id"]: a for a in answers}


def test_second_user_may_submit_but_not_administer(make_daemon: Any) -> None:
    shared = Path(tempfile.mkdtemp(prefix="seqd-access-"))
    try:
        shared.chmod(0o755)
        d: Daemon = make_daemon(start=False)
        d.socket_path = str(shared / "s.sock")
        cfg = d.base / "seqd.toml"
        cfg.write_text('[access]\nsocket_mode = 0o666\ndefault_role = "operator"\n')
        d.args += ["--config", str(cfg)]
        d.start()
        with d.client() as c:
            mine = c.submit("slow", {"seconds": 60})
        answers = as_nobody(
            d.socket,
            {"id": 1, "method": "daemon.ping"},
            {"id": 2, "method": "daemon.shutdown"},
            {"id": 3, "method": "daemon.reload"},
            {"id": 4, "method": "runs.cancel", "params": {"id": mine.id}},
            {
                "id": 5,
                "method": "runs.submit",
                "params": {"task": "slow", "input": {"seconds": 60}},
            },
        )
        assert answers[1]["result"] == "pong"
        for i in (2, 3, 4):
            assert answers[i]["error"]["data"]["type"] == "permission_denied", answers[i]
        theirs = answers[5]["result"]
        assert theirs["submitted_by"] == NOBODY
        again = as_nobody(
            d.socket, {"id": 6, "method": "runs.cancel", "params": {"id": theirs["id"]}}
        )
        assert again[6]["result"]["status"] == "cancelled"
        with d.client() as c:
            assert c.get_run(mine.id).status in ("queued", "running")
            assert c.cancel(mine.id).status == "cancelled"  # the owner may
            assert c.ping() == "pong"
    finally:
        shutil.rmtree(shared, ignore_errors=True)
