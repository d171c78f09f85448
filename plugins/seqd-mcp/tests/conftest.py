"""Fixtures: a real daemon with the test tasks and ``[mcp]`` (``mcp_harness``)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp_harness import CONFIG, Daemon, start_daemon


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    proc, status = start_daemon(tmp_path, CONFIG)
    assert status is None, (tmp_path / "daemon.log").read_text()
    yield Daemon(str(tmp_path / "s.sock"), tmp_path / "seqd.toml", proc, tmp_path / "daemon.log")
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
