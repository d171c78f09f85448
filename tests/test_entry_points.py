"""A real installed distribution is discovered through the ``seqd`` entry-point group,
used, and its broken siblings are reported without taking the daemon down."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

FIXTURE = Path(__file__).parent / "fixtures" / "seqd-testplugin"


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pip-install the fixture package (a real wheel build) into its own directory."""
    base = tmp_path_factory.mktemp("plugin")
    src = base / "src"
    shutil.copytree(FIXTURE, src)
    site = base / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(src),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert (site / "seqd_testplugin-0.3.1.dist-info" / "entry_points.txt").exists()
    return site


def test_installed_plugin_is_discovered_and_used(
    make_daemon, plugin_site: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    trace = tmp_path / "trace.txt"
    task = tmp_path / "extra" / "echo-task"
    task.mkdir(parents=True)
    (task / "config.json").write_text(json.dumps({"type": "echo"}))
    env = {
        "PYTHONPATH": os.pathsep.join([str(plugin_site), os.environ.get("PYTHONPATH", "")]),
        "SEQD_TEST_TRACE_FILE": str(trace),
    }
    config = tmp_path / "seqd.toml"
    config.write_text('[testplugin]\ngreeting = "bonjour"\n')
    d = make_daemon(env=env, tasks=[tmp_path / "extra"], args=["--config", str(config)])
    with d.client() as c:
        plugins = {p.name: p for p in c.plugins()}
        ours = plugins["testplugin"]
        assert ours.source == "entry-point" and ours.version == "0.3.1"
        assert ours.error is None
        assert ours.contributes == {
            "task_types": ["echo"],
            "tools": ["test.echo"],
            "tracers": ["test.file"],
            "config_sections": ["testplugin"],
        }
        assert "broken on purpose" in (plugins["testplugin-broken"].error or "")
        raising = plugins["testplugin-raising"].error or ""
        assert "registering tools" in raising
        assert plugins["task_python"].source == "builtin"
        run = c.submit("echo-task", {"x": 1}, wait=True, timeout_s=30)
        assert run.status == "succeeded"
        assert run.output == {"echo": {"x": 1}, "plugin": "seqd-testplugin"}
        failed = c.submit("echo-task", {"fail": True}, wait=True, timeout_s=30)
        assert failed.error.type == "echo_failed"
        echoed = c.call_tool("test.echo", {"x": [1, "two"]})
        assert echoed.result == {"params": {"x": [1, "two"]}, "caller": "rpc"}
    # Tracers get their events on a thread of their own: give it a moment.
    deadline = time.monotonic() + 10
    while "RunTransition succeeded" not in trace.read_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    text = trace.read_text()
    assert "bonjour" in text and "RunTransition succeeded" in text
    out = d.seqctl("plugins", "ls")
    assert "testplugin-broken" in out.stdout and "entry-point" in out.stdout


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[testplugn]\ngreeting = "hi"\n', "[testplugn]: unknown config section"),
        ("[testplugin]\ngreeting = 3\n", "[testplugin]: Expected `str`, got `int`"),
        ('[testplugin]\ngreting = "hi"\n', "[testplugin]: Object contains unknown field"),
    ],
)
def test_plugin_config_sections_are_checked_at_start(
    make_daemon, plugin_site: Path, tmp_path: Path, toml: str, message: str
) -> None:  # type: ignore[no-untyped-def]
    """A table no plugin reads, or one its plugin finds wrong, stops the daemon as a
    configuration mistake (exit 2) before it opens storage."""
    config = tmp_path / "seqd.toml"
    config.write_text(toml)
    env = {"PYTHONPATH": os.pathsep.join([str(plugin_site), os.environ.get("PYTHONPATH", "")])}
    d = make_daemon(env=env, args=["--config", str(config)], start=False)
    with pytest.raises(RuntimeError, match="exited with 2"):
        d.start()
    assert message in d.log_text()
    assert not (d.state_dir / "seqd.db").exists()
