"""Other users on the socket: what each role may do and see, by uid and by group, and
who owns the runs a run starts (issue 18, items 2 and 4).

Root runs the daemon and is an admin; the second user connects with seqctl as itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.security.conftest import GROUP, OTHER, User, seqctl_as, task_folder

SPAWNS = """
def run(ctx, seconds=60):
    return ctx.tool("task.run", task="slow", input={"seconds": seconds}, wait=False)
"""
CALLS_SHELL = """
def run(ctx):
    return ctx.tool("shell.exec", argv=["true"])["exit_code"]
"""


def reply(done: Any) -> Any:
    """The JSON seqctl printed (``--json``): a result, or for a refusal its error."""
    text = done.stdout.strip() or done.stderr.strip()
    return json.loads(text) if text.startswith(("{", "[")) else text


def refused(done: Any, kind: str = "permission_denied") -> bool:
    return done.returncode == 4 and f"({kind})" in done.stderr


def test_another_user_reads_by_default_and_no_more(open_daemon: Any, other: User) -> None:
    """``default_role = "reader"``: another user sees runs (without their data) and
    the daemon's state, but submits, cancels and administers nothing."""
    d = open_daemon()
    with d.client() as c:
        mine = c.submit("slow", {"seconds": 60})
    sock = d.socket
    assert seqctl_as(other, sock, "ping").returncode == 0
    listed = reply(seqctl_as(other, sock, "--json", "runs", "ls"))
    assert [r["id"] for r in listed["runs"]] == [mine.id]
    shown = reply(seqctl_as(other, sock, "--json", "runs", "show", mine.id))
    assert shown["input"] == {} and shown["redacted"] is True
    assert refused(seqctl_as(other, sock, "runs", "logs", mine.id))
    assert refused(seqctl_as(other, sock, "run", "hello", "-i", "name=Eve"))
    assert refused(seqctl_as(other, sock, "runs", "cancel", mine.id))
    assert refused(seqctl_as(other, sock, "daemon", "shutdown"))
    with d.client() as c:
        assert c.get_run(mine.id).input == {"seconds": 60}  # the owner sees it all
        assert c.cancel(mine.id).status == "cancelled"
    assert c.ping() == "pong"


def test_an_operator_manages_its_own_runs_only(open_daemon: Any, other: User) -> None:
    d = open_daemon(f'[access.users]\n{OTHER} = "operator"\n')
    sock = d.socket
    with d.client() as c:
        roots = c.submit("slow", {"seconds": 60})
    theirs = reply(seqctl_as(other, sock, "--json", "run", "slow", "-i", "seconds:=60", "--detach"))
    assert theirs["submitted_by"] == other.uid and theirs["input"] == {"seconds": 60}
    for verb in (["runs", "cancel", roots.id], ["runs", "signal", roots.id, "go"]):
        assert refused(seqctl_as(other, sock, *verb)), verb
    assert refused(seqctl_as(other, sock, "runs", "logs", roots.id))
    assert refused(seqctl_as(other, sock, "runs", "trace", roots.id))  # built from journals
    assert seqctl_as(other, sock, "runs", "logs", theirs["id"]).returncode == 0
    assert seqctl_as(other, sock, "runs", "trace", theirs["id"][:12]).returncode == 0
    cancelled = reply(seqctl_as(other, sock, "--json", "runs", "cancel", theirs["id"]))
    assert cancelled["status"] == "cancelled"
    retried = reply(seqctl_as(other, sock, "--json", "runs", "retry", theirs["id"]))
    assert retried["submitted_by"] == other.uid
    assert refused(seqctl_as(other, sock, "daemon", "reload"))
    assert refused(seqctl_as(other, sock, "runs", "prune", "--older-than", "0s"))
    with d.client() as c:
        assert c.get_run(theirs["id"]).input == {"seconds": 60}  # admins see every run
        c.cancel(retried["id"])
        c.cancel(roots.id)


def test_a_group_gives_its_members_a_role(open_daemon: Any, other: User) -> None:
    """Group entries match the peer's groups as the kernel saw them at connect time
    (SO_PEERGROUPS), not the group database: the same user is an operator in a
    process that has the group, a reader in one that does not."""
    d = open_daemon(f'[access.groups]\n{GROUP} = "operator"\n')
    sock = d.socket
    run = ["--json", "run", "hello", "-i", "name=Ops"]
    assert refused(seqctl_as(other, sock, *run))
    done = seqctl_as(other, sock, *run, groups=(other.ops_gid,))
    assert done.returncode == 0, done.stderr
    assert reply(done)["output"] == "Hello, Ops."


def test_shared_run_data_shows_other_users_runs(open_daemon: Any, other: User) -> None:
    d = open_daemon("share_run_data = true\n")
    with d.client() as c:
        run = c.submit("hello", {"name": "Ada"}, wait=True)
    shown = reply(seqctl_as(other, d.socket, "--json", "runs", "show", run.id))
    assert shown["input"]["name"] == "Ada" and shown["redacted"] is False
    assert seqctl_as(other, d.socket, "runs", "logs", run.id).returncode == 0


def test_status_shows_paths_to_admins_only(open_daemon: Any, other: User) -> None:
    d = open_daemon()
    theirs = reply(seqctl_as(other, d.socket, "--json", "status"))
    assert theirs["socket"] is None and theirs["state_dir"] is None
    assert theirs["task_dirs"] is None and theirs["storage"]["location"] is None
    assert "admins only" in seqctl_as(other, d.socket, "status").stdout
    with d.client() as c:
        mine = c.status()
    assert mine.socket == d.socket and mine.task_dirs and mine.storage.location


def test_runs_a_run_starts_belong_to_its_submitter(
    open_daemon: Any, other: User, tmp_path: Path
) -> None:
    """A run started through ``task.run`` is owned by the submitter of the run that
    started it: another user may not cancel, signal or retry it (item 2)."""
    tasks = task_folder(tmp_path / "tasks", "spawns", '{"type": "python"}', SPAWNS)
    d = open_daemon(f'[access.users]\n{OTHER} = "operator"\n', tasks=[tasks])
    with d.client() as c:
        parent = c.submit("spawns", {}, wait=True)
        child = c.get_run(parent.output["id"])
    assert child.submitted_by == 0 and child.parent_id == parent.id
    for verb in (["cancel", child.id], ["signal", child.id, "go"], ["retry", parent.id]):
        assert refused(seqctl_as(other, d.socket, "runs", *verb)), verb
    # The same tool called by the operator over RPC: the run is the operator's.
    done = seqctl_as(
        other, d.socket, "--json", "tools", "call", "task.run", "-p", "task=slow",
        "-p", "input:={\"seconds\": 60}", "-p", "wait:=false",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    theirs = reply(done)["result"]["id"]
    with d.client() as c:
        assert c.get_run(theirs).submitted_by == other.uid
        assert c.cancel(child.id).status == "cancelled"
        c.cancel(theirs)


def test_tools_need_their_role_over_rpc_and_from_runs(
    open_daemon: Any, other: User, tmp_path: Path
) -> None:
    """shell.exec, http.request and file.* are for admins unless configured; a run
    acts with its submitter's role, so the operator's run of a task may not do what
    the same task does for an admin."""
    tasks = task_folder(tmp_path / "tasks", "calls-shell", '{"type": "python"}', CALLS_SHELL)
    d = open_daemon(f'[access.users]\n{OTHER} = "operator"\n', tasks=[tasks])
    sock = d.socket
    for tool, params in (
        ("shell.exec", ["-p", 'argv:=["id"]']),
        ("file.list", []),
        ("http.request", ["-p", "url=https://example.com/"]),
    ):
        assert refused(seqctl_as(other, sock, "tools", "call", tool, *params)), tool
    assert seqctl_as(other, sock, "tools", "call", "kv.get", "-p", "key=x").returncode == 0
    theirs = reply(seqctl_as(other, sock, "--json", "run", "calls-shell"))
    assert theirs["status"] == "failed" and "needs the role 'admin'" in theirs["error"]["message"]
    with d.client() as c:
        assert c.submit("calls-shell", {}, wait=True).output == 0


def test_tool_roles_come_from_the_config(open_daemon: Any, other: User) -> None:
    d = open_daemon(
        f'[access.users]\n{OTHER} = "operator"\n[tools.roles]\n"shell.exec" = "operator"\n'
    )
    done = seqctl_as(
        other, d.socket, "--json", "tools", "call", "shell.exec", "-p", 'argv:=["id", "-u"]'
    )
    assert done.returncode == 0, done.stderr
    assert reply(done)["result"]["stdout"].strip() == "0"  # it runs as the daemon's user
