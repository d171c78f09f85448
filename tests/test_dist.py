"""seqd installs without the repository: wheels from ``make dist`` in a clean virtualenv
run tasks, load the first-party plugins, and take a third-party plugin built against
the installed seqd. And the development lock pins everything the projects declare."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "dev.lock"
UV = Path(sys.executable).parent / "uv"


def normalized(requirement: str) -> str:
    name = re.match(r"[A-Za-z0-9._-]+", requirement.strip())
    assert name, requirement
    return re.sub(r"[-_.]+", "-", name.group(0)).lower()


def test_the_lock_pins_every_declared_dependency() -> None:
    """A dependency added to a pyproject.toml without `make lock` fails here."""
    pinned = {
        normalized(line)
        for line in LOCK.read_text().splitlines()
        if re.match(r"^[A-Za-z0-9]", line) and "==" in line
    }
    declared: set[str] = set()
    projects = [ROOT / "pyproject.toml", *ROOT.glob("plugins/*/pyproject.toml")]
    for path in projects:
        project = tomllib.loads(path.read_text())["project"]
        declared |= {normalized(r) for r in project.get("dependencies", [])}
        for extra in project.get("optional-dependencies", {}).values():
            declared |= {normalized(r) for r in extra}
    missing = sorted(declared - pinned)
    assert not missing, f"not in {LOCK.name}: {missing}; run `make lock`"


def _run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, **kwargs)
    assert done.returncode == 0, f"{cmd}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.mark.xdist_group("dist")
def test_wheels_install_into_a_clean_venv_and_run_a_task(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    _run(["make", "-s", "dist", f"DIST={dist}"], cwd=ROOT)
    wheels = sorted(p.name for p in dist.glob("*.whl"))
    plugins = sorted(p.parent.name for p in ROOT.glob("plugins/*/pyproject.toml"))
    assert len(wheels) == 1 + len(plugins), wheels

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = str(venv / "bin" / "python")
    _run([str(UV), "pip", "install", "--quiet", "--python", python, *map(str, dist.glob("*.whl"))])

    home = tmp_path / "home"
    tasks = home / "tasks"
    shutil.copytree(ROOT / "contrib" / "examples" / "tasks" / "hello", tasks / "hello")
    sock = str(home / "seqd.sock")

    def start() -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SEQD_CONFIG")}
        log = open(home / "daemon.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            [str(venv / "bin" / "seqd"), "--socket", sock, "--state-dir", str(home / "state"),
             "--tasks", str(tasks)],
            cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not os.path.exists(sock):
            assert proc.poll() is None, (home / "daemon.log").read_text()
            assert time.monotonic() < deadline, (home / "daemon.log").read_text()
            time.sleep(0.05)
        return proc

    def seqctl(*args: str) -> subprocess.CompletedProcess[str]:
        return _run([str(venv / "bin" / "seqctl"), "--socket", sock, "--json", *args], cwd=home)

    proc = start()
    try:
        run = json.loads(seqctl("run", "hello", "-i", "name=Ada").stdout)
        assert run["status"] == "succeeded" and "Ada" in json.dumps(run["output"])
        listed = {p["name"]: p for p in json.loads(seqctl("plugins", "ls").stdout)}
        assert listed["postgres"]["source"] == "entry-point"
        assert listed["postgres"]["error"] is None
        assert listed["mcp"]["error"] is None  # seqd-mcp's daemon side ([mcp] table)
        # seqd-mcp's seqctl command, found through its `seqd.seqctl` entry point.
        helped = _run([str(venv / "bin" / "seqctl"), "mcp", "--help"], cwd=home)
        assert "--allow-task GLOB" in helped.stdout
        # The worker ran from the clean venv, not from this checkout.
        assert str(ROOT) not in (home / "daemon.log").read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)

    # A third-party plugin builds and installs against the installed seqd, which
    # satisfies its `seqd` requirement: nothing is fetched from an index.
    _run([python, "-m", "pip", "install", "--quiet", "setuptools>=77"])
    template = tmp_path / "template"
    shutil.copytree(ROOT / "contrib" / "plugin-template", template)
    _run([python, "-m", "pip", "install", "--quiet", "--no-index", "--no-build-isolation",
          str(template)])  # fmt: skip
    proc = start()
    try:
        called = seqctl("tools", "call", "template.greet", "-p", "name=Ada")
        assert json.loads(called.stdout)["result"]["greeting"] == "Hello, Ada!"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
