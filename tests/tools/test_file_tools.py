"""file.* tools: scopes, and every way out of a scope refused (``..``, absolute paths,
symlinks in the middle and at the end, a symlink swapped in after the check)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from seqd.errors import PermissionDenied, SeqdError, ToolFailed, ValidationFailed
from seqd.runtime.confine import parent_fd, resolve
from seqd.tools.service import ToolService
from tests.tools.conftest import RPC, Env, run_caller

RUN = run_caller()


def call(env: Env, name: str, params: dict, caller=RPC, **config) -> object:  # type: ignore[no-untyped-def]
    async def main() -> object:
        async with env.service(**config) as svc:
            return await svc.call(name, params, caller)

    return env.run(main())


def refused(env: Env, name: str, params: dict, caller=RPC) -> SeqdError:  # type: ignore[no-untyped-def]
    with pytest.raises(SeqdError) as info:
        call(env, name, params, caller)
    return info.value


def test_write_read_list_delete_in_each_scope(env: Env) -> None:
    async def main(svc: ToolService) -> None:
        for scope, root in (
            ("run", env.state_dir / "work" / RUN.run_id),  # type: ignore[operator]
            ("task", env.state_dir / "tool-files" / "tasks" / "job"),
            ("global", env.state_dir / "tool-files" / "global"),
        ):
            wrote = await svc.call(
                "file.write", {"path": "d/e/f.txt", "content": scope, "scope": scope}, RUN
            )
            assert wrote == {"path": "d/e/f.txt", "size": len(scope)}
            assert (root / "d" / "e" / "f.txt").read_text() == scope
            await svc.call(
                "file.write",
                {"path": "d/e/f.txt", "content": "+", "append": True, "scope": scope},
                RUN,
            )
            got = await svc.call("file.read", {"path": "d/e/f.txt", "scope": scope}, RUN)
            assert got["content"] == scope + "+" and got["truncated"] is False
            listed = await svc.call("file.list", {"path": "d", "scope": scope}, RUN)
            assert listed["entries"] == [
                {"name": "e", "type": "dir", "size": listed["entries"][0]["size"]}
            ]
            gone = await svc.call("file.delete", {"path": "d/e/f.txt", "scope": scope}, RUN)
            assert gone["deleted"] is True and not (root / "d" / "e" / "f.txt").exists()
            again = await svc.call("file.delete", {"path": "d/e/f.txt", "scope": scope}, RUN)
            assert again["deleted"] is False
        # a run's default scope is its scratch dir; RPC's is the global dir
        await svc.call("file.write", {"path": "r.txt", "content": "r"}, RUN)
        assert (env.state_dir / "work" / RUN.run_id / "r.txt").exists()  # type: ignore[operator]
        await svc.call("file.write", {"path": "g.txt", "content": "g"}, RPC)
        assert (env.state_dir / "tool-files" / "global" / "g.txt").exists()

    async def outer() -> None:
        async with env.service() as svc:
            await main(svc)

    env.run(outer())


def test_rpc_callers_reach_only_the_global_scope(env: Env) -> None:
    err = refused(env, "file.read", {"path": "x", "scope": "run"})
    assert isinstance(err, PermissionDenied) and err.details["field"] == "params.scope"
    with pytest.raises(PermissionDenied):
        call(env, "file.list", {}, RPC, rpc_file_access="none")


def test_binary_content_and_size_caps(env: Env) -> None:
    async def main() -> None:
        async with env.service(file_max_bytes=1000) as svc:
            blob = bytes(range(256)) * 2
            import base64

            b64 = base64.b64encode(blob).decode()
            await svc.call(
                "file.write", {"path": "b.bin", "content": b64, "encoding": "base64"}, RPC
            )
            got = await svc.call("file.read", {"path": "b.bin", "encoding": "base64"}, RPC)
            assert base64.b64decode(got["content"]) == blob
            with pytest.raises(ToolFailed) as info:
                await svc.call("file.read", {"path": "b.bin"}, RPC)
            assert info.value.details["reason"] == "not_text"
            cut = await svc.call(
                "file.read", {"path": "b.bin", "max_bytes": 10, "encoding": "base64"}, RPC
            )
            assert cut["truncated"] is True and len(base64.b64decode(cut["content"])) == 10
            with pytest.raises(ValidationFailed) as too_big:
                await svc.call("file.write", {"path": "big", "content": "x" * 1001}, RPC)
            assert too_big.value.details["field"] == "params.content"
            with pytest.raises(ValidationFailed):
                await svc.call(
                    "file.write", {"path": "b", "content": "@@", "encoding": "base64"}, RPC
                )
            with pytest.raises(ToolFailed) as missing:
                await svc.call("file.read", {"path": "nope.txt"}, RPC)
            assert missing.value.details["reason"] == "not_found"

    env.run(main())


# -- escapes -------------------------------------------------------------------------


@pytest.fixture
def outside(env: Env) -> Path:
    secret = env.base / "secret"
    secret.mkdir()
    (secret / "key.txt").write_text("do not read")
    return secret


def global_root(env: Env) -> Path:
    root = env.state_dir / "tool-files" / "global"
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.mark.parametrize("tool", ["file.read", "file.write", "file.list", "file.delete"])
@pytest.mark.parametrize(
    "path", ["../../../secret/key.txt", "a/../../../../secret/key.txt", "..", "../global2"]
)
def test_dotdot_cannot_escape(env: Env, outside: Path, tool: str, path: str) -> None:
    params = {"path": path, **({"content": "x"} if tool == "file.write" else {})}
    err = refused(env, tool, params)
    assert isinstance(err, PermissionDenied), err
    assert err.details["field"] == "params.path"
    assert (outside / "key.txt").read_text() == "do not read"


@pytest.mark.parametrize("tool", ["file.read", "file.write", "file.delete"])
def test_absolute_paths_are_refused(env: Env, outside: Path, tool: str) -> None:
    params = {
        "path": str(outside / "key.txt"),
        **({"content": "x"} if tool == "file.write" else {}),
    }
    err = refused(env, tool, params)
    assert isinstance(err, PermissionDenied) and "absolute" in err.message
    assert (outside / "key.txt").read_text() == "do not read"


def test_symlink_in_the_middle_cannot_escape(env: Env, outside: Path) -> None:
    root = global_root(env)
    os.symlink(outside, root / "link")
    for tool, extra in (("file.read", {}), ("file.write", {"content": "pwned"}),
                        ("file.delete", {}), ("file.list", {})):  # fmt: skip
        path = "link" if tool == "file.list" else "link/key.txt"
        err = refused(env, tool, {"path": path, **extra})
        assert isinstance(err, PermissionDenied) and "outside" in err.message, err
    assert (outside / "key.txt").read_text() == "do not read"


def test_symlink_as_last_component_cannot_escape(env: Env, outside: Path) -> None:
    root = global_root(env)
    os.symlink(outside / "key.txt", root / "key.txt")
    assert isinstance(refused(env, "file.read", {"path": "key.txt"}), PermissionDenied)
    assert isinstance(
        refused(env, "file.write", {"path": "key.txt", "content": "pwned"}), PermissionDenied
    )
    assert (outside / "key.txt").read_text() == "do not read"
    # file.list shows the link as a link, without following it
    listed = call(env, "file.list", {})
    assert {"name": "key.txt", "type": "symlink"}.items() <= listed["entries"][0].items()  # type: ignore[index]


def test_symlink_inside_the_scope_is_followed(env: Env) -> None:
    root = global_root(env)
    (root / "real").mkdir()
    (root / "real" / "f.txt").write_text("inside")
    os.symlink("real", root / "alias")
    assert call(env, "file.read", {"path": "alias/f.txt"})["content"] == "inside"  # type: ignore[index]


def test_deleting_a_symlink_removes_the_link_not_the_target(env: Env) -> None:
    root = global_root(env)
    (root / "t.txt").write_text("target")
    os.symlink("t.txt", root / "l.txt")
    # l.txt resolves to t.txt inside the scope: the resolved file is what is deleted,
    # never anything outside.
    assert call(env, "file.delete", {"path": "l.txt"})["deleted"] is True  # type: ignore[index]
    assert not (root / "t.txt").exists()


def test_a_symlink_swapped_in_after_the_check_is_not_followed(env: Env, outside: Path) -> None:
    """The race the resolved-path check alone cannot close: a folder checked as real is
    replaced by a symlink before the open. The component-wise O_NOFOLLOW open refuses."""
    root = global_root(env)
    (root / "dir").mkdir()
    (root / "dir" / "key.txt").write_text("mine")
    real_root, parts = resolve(str(root), "dir/key.txt", "file.read")
    assert parts == ["dir", "key.txt"]
    # the attacker's move, between check and use
    os.rename(root / "dir", root / "dir.old")
    os.symlink(outside, root / "dir")
    with (
        pytest.raises(PermissionDenied) as info,
        parent_fd(real_root, parts, "file.read", "dir/key.txt") as fd,
    ):
        os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
    assert "symlink" in info.value.message
    # and the last component swapped for a symlink
    os.unlink(root / "dir")
    os.rename(root / "dir.old", root / "dir")
    real_root, parts = resolve(str(root), "dir/key.txt", "file.read")
    os.unlink(root / "dir" / "key.txt")
    os.symlink(outside / "key.txt", root / "dir" / "key.txt")
    with (  # ELOOP: the link is not followed
        pytest.raises(PermissionDenied) as last,
        parent_fd(real_root, parts, "file.read", "dir/key.txt") as fd,
    ):
        raise AssertionError(os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd))
    assert "symlink" in last.value.message


def test_nul_and_validation_errors_name_the_field(env: Env) -> None:
    err = refused(env, "file.read", {"path": "a\x00b"})
    assert isinstance(err, ValidationFailed) and err.details["field"] == "params.path"
    err = refused(env, "file.read", {})
    assert isinstance(err, ValidationFailed) and err.details["field"] == "params.path"
    err = refused(env, "file.read", {"path": "x", "scope": "elsewhere"})
    assert err.details["field"] == "params.scope"
    err = refused(env, "file.write", {"path": "x", "content": 3})
    assert err.details["field"] == "params.content"
    err = refused(env, "file.read", {"path": "x", "bogus": 1})
    assert err.details["field"] == "params.bogus"
