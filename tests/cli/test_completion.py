"""Shell completion: the scripts ``seqctl completion SHELL`` prints parse in their
shell, complete commands and options, and ask a real daemon for task names, run ids
and tool names at each press of Tab (``seqctl __complete KIND``).

Each shell must be installed to be tested: CI installs bash, zsh and fish
(``.ci/run``); elsewhere a missing one is skipped, saying so — but under ``CI=true`` a
missing shell fails the test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SEQCTL = [sys.executable, "-m", "seqd.cli"]
BIN = str(Path(sys.executable).parent)  # where the `seqctl` script of this install is


def shell(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is not installed; .ci/run installs it for this test")
        pytest.skip(f"{name} is not installed (CI installs it; apt-get install {name})")
    return found


def script(name: str, tmp_path: Path) -> Path:
    proc = subprocess.run([*SEQCTL, "completion", name], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "seqctl __complete tasks" in proc.stdout
    path = tmp_path / f"seqctl.{name}"
    path.write_text(proc.stdout)
    return path


def env(socket: str | None) -> dict[str, str]:
    values = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    if socket is not None:
        values["SEQD_SOCKET"] = socket
    return values


def run_shell(argv: list[str], socket: str | None) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, env=env(socket), timeout=60)
    assert proc.returncode == 0, proc
    return proc.stdout


@pytest.mark.parametrize(
    ("name", "check"),
    [("bash", ["-n"]), ("zsh", ["-n"]), ("fish", ["--no-execute"])],
)
def test_scripts_parse(name: str, check: list[str], tmp_path: Path) -> None:
    path = script(name, tmp_path)
    proc = subprocess.run([shell(name), *check, str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_bash_completes_commands_and_names_from_the_daemon(daemon, tmp_path: Path) -> None:
    path = script("bash", tmp_path)
    daemon.seqctl("run", "noop")

    def complete(line: str) -> list[str]:
        empty_word = 'COMP_WORDS+=("")' if line.endswith(" ") else ":"
        code = (
            f"source {path}\n"
            f"COMP_LINE={line!r}; COMP_POINT=${{#COMP_LINE}}\n"
            'read -ra COMP_WORDS <<< "$COMP_LINE"\n'
            f"{empty_word}\n"
            "COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))\n"
            '_shtab_seqctl; printf "%s\\n" "${COMPREPLY[@]}"\n'
        )
        return run_shell([shell("bash"), "-c", code], daemon.socket).split()

    assert "show" in complete("seqctl runs s")
    assert complete("seqctl run he") == ["hello"]
    assert "--each" in complete("seqctl run --ea")
    with daemon.client() as c:
        newest = c.list_runs(limit=1).runs[0].id
    assert {"last", newest} <= set(complete("seqctl runs show "))
    assert set(complete("seqctl tools show kv.")) >= {"kv.get", "kv.set"}
    assert complete("seqctl runs ls --task pyec") == ["pyecho"]


def test_fish_completes_names_from_the_daemon(daemon, tmp_path: Path) -> None:
    path = script("fish", tmp_path)

    def complete(line: str) -> list[str]:
        out = run_shell(
            [shell("fish"), "-c", f"source {path}; complete -C {line!r}"], daemon.socket
        )
        return [row.split("\t")[0] for row in out.splitlines()]

    assert complete("seqctl run he") == ["hello"]
    assert {"show", "signal", "steps"} <= set(complete("seqctl runs s"))


def test_zsh_asks_the_daemon_when_completing_not_when_loading(daemon, tmp_path: Path) -> None:
    path = script("zsh", tmp_path)
    # Loading the script runs nothing (no seqctl on PATH here: it would say so).
    loaded = subprocess.run(
        [shell("zsh"), "-f", "-c", f"autoload -U compinit; compinit -u -D; source {path}"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        timeout=60,
    )
    assert "command not found" not in loaded.stderr, loaded.stderr
    # The completer a task argument names, with compadd stood in for: what it offers.
    code = (
        f"source {path}\n"
        'compadd() { print -l -- "${(@P)${@[-1]}}" }\n'
        "_seqctl_complete_tasks\n"
    )
    offered = run_shell([shell("zsh"), "-f", "-c", code], daemon.socket).split()
    assert {"hello", "slow", "pyecho"} <= set(offered)


def test_complete_prints_names_and_nothing_without_a_daemon(daemon, tmp_path: Path) -> None:
    tasks = daemon.seqctl("__complete", "tasks")
    assert tasks.returncode == 0 and "hello" in tasks.stdout.split()
    runs = daemon.seqctl("__complete", "runs")
    assert runs.stdout.split()[0] == "last"
    # No daemon, an unknown kind, a daemon without schedules: nothing, exit 0.
    none = subprocess.run(
        [*SEQCTL, "__complete", "tasks"],
        capture_output=True,
        text=True,
        env={**os.environ, "SEQD_SOCKET": str(tmp_path / "none.sock")},
        timeout=60,
    )
    assert (none.returncode, none.stdout, none.stderr) == (0, "", "")
    for kind in ("nonsense", "schedules"):
        proc = daemon.seqctl("__complete", kind)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", ""), kind
    assert daemon.seqctl("completion", "tcsh").returncode == 2
