"""Attacks by another local user, done for real: a second user made with ``useradd``,
acting through ``setpriv`` (its own uid and gid, no groups but those given) with an
interpreter it may run, against a real daemon whose socket it can open.

The tests run as root (here and in CI). Without root, ``useradd`` or ``setpriv`` they
skip saying why — except under ``CI=true``, where that is a failure: CI must not go
green by testing nothing.
"""

from __future__ import annotations

import itertools
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
OTHER = "seqd-test-other"
GROUP = "seqd-test-ops"


def need(reason: str) -> None:
    """Skip the test for ``reason``; under ``CI=true`` fail it instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: this must not be skipped)")
    pytest.skip(reason)


@dataclass(frozen=True)
class User:
    name: str
    uid: int
    gid: int
    ops_gid: int
    """A group the user is not a member of in the database; ``groups=[ops_gid]``
    gives it to the process, as a login in that group would have it."""


def _ensure(check: list[str], create: list[str]) -> None:
    """Create a user or group unless it exists; another test run may race us."""
    if subprocess.run(check, capture_output=True).returncode == 0:
        return
    made = subprocess.run(create, capture_output=True, text=True)
    if made.returncode != 0 and subprocess.run(check, capture_output=True).returncode != 0:
        raise RuntimeError(f"{' '.join(create)} failed: {made.stderr}")


def _reachable_by_others(path: str) -> bool:
    """Whether another user may execute ``path`` (every folder above it searchable)."""
    real = Path(os.path.realpath(path))
    if not real.is_file() or not os.stat(real).st_mode & stat.S_IXOTH:
        return False
    return all(os.stat(p).st_mode & stat.S_IXOTH for p in real.parents)


def other_python() -> str:
    """An interpreter the second user may run (seqctl needs only the standard library)."""
    for candidate in (sys.executable, "/usr/bin/python3", shutil.which("python3") or ""):
        if candidate and _reachable_by_others(candidate):
            return candidate
    need("no python interpreter that another user may run")
    raise AssertionError  # not reached


@pytest.fixture(scope="session")
def other() -> User:
    """The second user (created once, idempotently)."""
    if os.geteuid() != 0:
        need("needs root to create a second user and act as it")
    for tool in ("useradd", "groupadd", "setpriv", "getent"):
        if not shutil.which(tool):
            need(f"needs {tool} to act as a second user")
    _ensure(["getent", "group", GROUP], ["groupadd", "--system", GROUP])
    _ensure(
        ["id", "-u", OTHER],
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", OTHER],
    )
    import grp
    import pwd

    entry = pwd.getpwnam(OTHER)
    return User(OTHER, entry.pw_uid, entry.pw_gid, grp.getgrnam(GROUP).gr_gid)


def setpriv(user: User, groups: tuple[int, ...] = ()) -> list[str]:
    """The command prefix that runs what follows as ``user`` (its uid and gid; no
    supplementary groups but ``groups``)."""
    ids = ["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}"]
    return ids + ([f"--groups={','.join(map(str, groups))}"] if groups else ["--clear-groups"])


def as_user(
    user: User,
    argv: list[str],
    *,
    groups: tuple[int, ...] = (),
    env: dict[str, str] | None = None,
    input: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` as ``user`` (its uid and gid; supplementary groups: only
    ``groups``). ``PYTHONPATH`` points at this checkout, readable by anyone."""
    base = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/",
        "PYTHONPATH": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
        "LANG": "C.UTF-8",
    }
    return subprocess.run(
        [*setpriv(user, groups), *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        env={**base, **(env or {})},
        cwd="/",
    )


def seqctl_as(user: User, socket: str, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    """``seqctl --socket SOCKET ARGS`` as ``user``."""
    return as_user(user, [other_python(), "-m", "seqd.cli", "--socket", socket, *args], **kw)


@contextmanager
def temp_folder(mode: int, parent: str | None = None) -> Iterator[Path]:
    """A fresh folder with ``mode``, removed afterwards (pytest's own tmp folders are
    root's alone: other users cannot enter them)."""
    path = Path(tempfile.mkdtemp(prefix="seqd-sec-", dir=parent))
    path.chmod(mode)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder every user may enter."""
    with temp_folder(0o755) as path:
        yield path


@pytest.fixture
def sticky_tmp() -> Iterator[Path]:
    """A world-writable sticky folder, as /tmp is: anyone may make names in it."""
    with temp_folder(0o1777) as path:
        yield path


@pytest.fixture
def open_daemon(make_daemon: Any, shared_dir: Path) -> Callable[..., Any]:
    """Factory: a daemon with ``config`` (TOML, appended to an ``[access]`` section
    with ``socket_mode = 0o666``) whose socket other users may open."""
    count = itertools.count()

    def start(
        config: str = "",
        tasks: list[Path] | None = None,
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
    ) -> Any:
        n = next(count)
        d = make_daemon(start=False, tasks=tasks, env=env, name=f"open{n}")
        d.socket_path = str(shared_dir / f"s{n}.sock")
        path = d.base / "seqd.toml"
        path.write_text("[access]\nsocket_mode = 0o666\n" + config)
        d.args += ["--config", str(path), *(args or [])]
        return d.start()

    return start


def task_folder(base: Path, name: str, config: str, code: str | None = None) -> Path:
    """A task folder ``base/name`` with ``config.json`` (and ``code.py``)."""
    folder = base / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(config)
    if code is not None:
        (folder / "code.py").write_text(code)
    return base
