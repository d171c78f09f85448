"""The access decisions without a socket: roles from the config, the policy's views,
and the environment allowlist. (Real second users attack them in tests/security/.)"""

from __future__ import annotations

import asyncio
import os

import msgspec

from seqd.access.policy import DAEMON, Actor, Policy
from seqd.access.roles import Roles
from seqd.config.settings import Access, Config
from seqd.model.runs import Run, RunError
from seqd.model.timeutil import now
from seqd.rpc.status import StatusResult
from seqd.runtime.taskenv import helper_env, passthrough


def roles(**access: object) -> Roles:
    return Roles(msgspec.convert(access, Access), daemon_uid=990)


def test_admins_entries_and_the_default() -> None:
    r = roles(admin_uids=[5], users={"1001": "operator", "1002": "none"},
              groups={"100": "reader", "200": "operator"}, default_role="reader")  # fmt: skip
    no_groups: list[int] = []
    assert r.of_peer(0, 0, lambda: no_groups) == "admin"  # root
    assert r.of_peer(990, 990, lambda: no_groups) == "admin"  # the daemon's user
    assert r.of_peer(5, 5, lambda: no_groups) == "admin"
    assert r.of_peer(1001, 1001, lambda: no_groups) == "operator"
    assert r.of_peer(1002, 1002, lambda: no_groups) == "none"  # an entry beats the default
    assert r.of_peer(1003, 1003, lambda: no_groups) == "reader"
    assert r.of_peer(1003, 100, lambda: [7, 200]) == "operator"  # the most capable match
    assert r.of_peer(1002, 1002, lambda: [200]) == "operator"
    assert r.of_peer(-1, -1, lambda: no_groups) == "none"  # no credentials


def test_groups_are_only_asked_for_when_needed() -> None:
    asked: list[int] = []

    def groups() -> list[int]:
        asked.append(1)
        return []

    roles(users={"1001": "operator"}).of_peer(1001, 1001, groups)
    roles(groups={"100": "operator"}).of_peer(0, 0, groups)
    assert asked == []
    roles(groups={"100": "operator"}).of_peer(1001, 1001, groups)
    assert asked == [1]


def test_a_run_acts_with_its_submitters_role() -> None:
    r = roles(users={"1001": "operator"})
    assert asyncio.run(r.of_submitter(None)) == "admin"  # the daemon's own runs
    assert asyncio.run(r.of_submitter(1001)) == "operator"
    assert asyncio.run(r.of_submitter(4242)) == "reader"


def run_of(uid: int | None) -> Run:
    return Run(
        id="ab" * 12, task="t", status="failed", created_at=now(), submitted_by=uid,
        input={"secret": 1}, output={"o": 2}, idempotency_key="k", idempotency_scope="uid:7",
        error=RunError(type="exception", message="boom with data", details={"d": 1}),
    )  # fmt: skip


def test_what_a_caller_sees_of_a_run() -> None:
    policy = Policy(Config(), roles())
    run = run_of(1001)
    owner, other, admin = Actor(1001, "operator"), Actor(1002, "operator"), Actor(0, "admin")
    assert policy.run_view(owner, run) == run and policy.run_view(admin, run) == run
    seen = policy.run_view(other, run)
    assert (seen.input, seen.output, seen.idempotency_key, seen.redacted) == ({}, None, None, True)
    assert seen.error == RunError(type="exception", message="hidden: another user's run")
    assert (seen.id, seen.status, seen.submitted_by) == (run.id, run.status, 1001)
    shared = Policy(msgspec.convert({"access": {"share_run_data": True}}, Config), roles())
    assert shared.run_view(other, run) == run
    nobodys = run_of(None)
    assert not policy.may_manage(owner, nobodys) and policy.may_manage(DAEMON, nobodys)
    assert not policy.may_manage(Actor(1001, "reader"), run)  # its own, but a reader


def test_tool_roles_default_and_configured() -> None:
    config = msgspec.convert(
        {"tools": {"roles": {"kv.*": "admin", "shell.exec": "operator"}, "admin_only": ["x.y"]}},
        Config,
    )
    policy = Policy(config, roles())
    assert Policy(Config(), roles()).tool_role("file.read") == "admin"
    assert policy.tool_role("file.write") == "admin"  # the defaults still hold
    assert policy.tool_role("shell.exec") == "operator"
    assert policy.tool_role("kv.get") == "admin" and policy.tool_role("x.y") == "admin"
    assert policy.tool_role("task.run") == "operator"


def test_status_hides_paths_from_non_admins() -> None:
    status = msgspec.convert(
        {"version": "1", "protocol": "1", "pid": 1, "uptime_s": 0, "node": "n",
         "storage": {"name": "sqlite", "location": "/s/seqd.db"}, "socket": "/s.sock",
         "state_dir": "/s", "task_dirs": ["/t"], "plugins": [], "runs": {},
         "workers": {"max": 1, "busy": 0, "queued": 0}, "tasks": 0, "connections": 0,
         "rss_bytes": 0, "limits": {"max_line_bytes": 1, "max_connections": 1,
                                    "log_cap_bytes": 1}},
        StatusResult,
    )  # fmt: skip
    assert Policy.status_view(Actor(0, "admin"), status) == status
    hidden = Policy.status_view(Actor(1, "reader"), status)
    assert (hidden.socket, hidden.state_dir, hidden.task_dirs) == (None, None, None)
    assert hidden.storage.location is None and hidden.storage.name == "sqlite"


def test_the_environment_allowlist() -> None:
    source = {"PATH": "/bin", "LC_TIME": "C", "LC_ALL": "C", "LANG": "C", "DSN": "pw",
              "NOTIFY_SOCKET": "/x", "LCX": "no"}  # fmt: skip
    assert passthrough(["PATH", "LC_*", "NOTIFY_SOCKET"], source) == {
        "PATH": "/bin",
        "LC_TIME": "C",
        "LC_ALL": "C",
    }
    env = helper_env(["PATH"])
    assert set(env) <= {"PATH", "PYTHONPATH", "PYTHONHOME"}
    assert env.get("PATH") == os.environ.get("PATH")
