"""``tokens.*`` and ``seqctl web``: a token acts as the peer that made it, is shown
once and stored only hashed, and stops working when revoked or expired."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from seqd.access import tokens as tokens_module
from seqd.access.tokens import TokenStore
from seqd.client import Client, RpcError

SEQCTL_PREFIX = ["-m", "seqd.cli"]


def test_create_list_revoke_over_the_socket(daemon: Any) -> None:
    with Client(daemon.socket) as c:
        made = c.call("tokens.create", {"ttl_s": 3600, "label": "laptop"})
        assert made.token.startswith(f"seqd_{made.id}_") and made.uid == os.geteuid()
        listed = c.call("tokens.list", {}).tokens
        assert [(t.id, t.label) for t in listed] == [(made.id, "laptop")]
        assert not hasattr(listed[0], "token")
        stored = Path(daemon.base / "state" / "tokens.json")
        assert stat.S_IMODE(stored.stat().st_mode) == 0o600
        secret = made.token.rsplit("_", 1)[1]
        assert secret not in stored.read_text()  # only its hash
        c.call("tokens.revoke", {"id": made.id})
        assert c.call("tokens.list", {}).tokens == []
        with pytest.raises(RpcError) as gone:
            c.call("tokens.revoke", {"id": made.id})
        assert gone.value.type == "not_found"


@pytest.mark.parametrize(
    ("params", "field"),
    [({"ttl_s": 10}, "ttl_s"), ({"ttl_s": 40 * 86400}, "ttl_s"), ({"label": "a\nb"}, "label"),
     ({"secret": 1}, "secret")],
)  # fmt: skip
def test_hostile_params_name_the_field(daemon: Any, params: dict[str, Any], field: str) -> None:
    with Client(daemon.socket) as c, pytest.raises(RpcError) as refused:
        c.call("tokens.create", params)
    assert refused.value.type == "validation" and refused.value.details["field"] == field


def test_seqctl_web_token(daemon: Any) -> None:
    def seqctl(*args: str) -> subprocess.CompletedProcess[str]:
        import sys

        return subprocess.run([sys.executable, *SEQCTL_PREFIX, "--socket", daemon.socket, *args],
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    made = seqctl("web", "token", "--ttl", "2h", "--label", "ci")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("seqd_") and "acts as uid" in made.stderr
    listed = json.loads(seqctl("web", "tokens", "--json").stdout)["tokens"]
    assert [t["label"] for t in listed] == ["ci"]
    assert seqctl("web", "token", "--ttl", "10s").returncode == 4  # under a minute
    assert seqctl("web", "revoke", token.split("_")[1]).returncode == 0
    assert seqctl("web", "revoke", "0123456789ab").returncode == 4


def test_owner_checks_secret_expiry_and_revocation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = TokenStore(str(tmp_path))
    made = store.create(1000, 60, "")
    assert store.owner(made.token) == 1000
    assert store.owner(made.token[:-1] + ("A" if made.token[-1] != "A" else "B")) is None
    assert store.owner(f"seqd_{made.id}") is None
    assert store.owner("something else") is None
    other = store.create(1001, 3600, "")
    assert {t.id for t in store.listed(1001)} == {other.id}
    now = tokens_module.time.time()
    monkeypatch.setattr(tokens_module.time, "time", lambda: now + 61)
    assert store.owner(made.token) is None  # expired
    assert [t.id for t in store.listed(None)] == [other.id]
    assert store.revoke(other.id) is not None
    assert store.owner(other.token) is None
