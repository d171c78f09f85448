"""Inputs in a shell script (issue 18, item 8): an argv like ``["sh", "-c", "echo
{name}"]`` makes an input shell code. It is legal, so ``tasks.validate`` warns (and so
does the daemon's log when the task loads); the safe forms do not warn — and really are
safe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from seqd.builtin.tasks.shell import placeholders
from seqd.builtin.tasks.shellscripts import script_index, script_warnings
from tests.security.conftest import task_folder

INPUTS = '"inputs": {"type": "object", "properties": {"name": {"type": "string"}}}'
HOSTILE = "x; echo INJECTED"


@pytest.mark.parametrize(
    ("argv", "index"),
    [
        (["sh", "-c", "echo {name}"], 2),
        (["/bin/bash", "-e", "-c", "echo {name}"], 3),
        (["bash", "-lc", "echo {name}"], 2),
        (["bash", "-o", "pipefail", "-c", "echo {name}"], 4),
        (["env", "-i", "A=1", "zsh", "-c", "echo {name}"], 5),
        (["busybox", "sh", "-c", "echo {name}"], 3),
    ],
)
def test_a_placeholder_in_a_shell_script_is_found(argv: list[str], index: int) -> None:
    assert script_index(argv) == index
    (warning,) = script_warnings(argv, placeholders)
    assert warning.where == f"config.json: command[{index}]" and "{name}" in warning.message


@pytest.mark.parametrize(
    "argv",
    [
        ["sh", "-c", 'echo "$1"', "sh", "{name}"],  # the input as the script's argument
        ["sh", "-c", 'echo "$SEQD_INPUT_NAME"'],
        ["echo", "{name}"],  # no shell at all
        ["sh", "script.sh", "{name}"],  # a script file, not -c
        ["python3", "-c", "print(1)", "{name}"],
    ],
)
def test_the_safe_forms_do_not_warn(argv: list[str]) -> None:
    assert script_warnings(argv, placeholders) == []


def test_validate_warns_and_the_safe_form_is_safe(make_daemon: Any, tmp_path: Path) -> None:
    tasks = tmp_path / "tasks"
    risky = '["sh", "-c", "echo {name}"]'
    safe = '["sh", "-c", "echo \\"$1\\"", "sh", "{name}"]'
    task_folder(tasks, "risky", "{" + f'"type": "shell", "command": {risky}, {INPUTS}' + "}")
    task_folder(tasks, "safe", "{" + f'"type": "shell", "command": {safe}, {INPUTS}' + "}")
    d = make_daemon(tasks=[tasks])
    with d.client() as c:
        risky_check, safe_check = c.validate("risky"), c.validate("safe")
        injected = c.submit("risky", {"name": HOSTILE}, wait=True)
        quoted = c.submit("safe", {"name": HOSTILE}, wait=True)
        risky_out = [line.text for line in c.logs(injected.id).lines]
        safe_out = [line.text for line in c.logs(quoted.id).lines]
    assert risky_check.ok and risky_check.warnings and not safe_check.warnings
    assert "becomes shell code" in risky_check.warnings[0].message
    assert "INJECTED" in risky_out  # what the warning is about
    assert safe_out == [HOSTILE]
    assert "task risky: config.json: command[2]" in d.log_text()
    shown = d.seqctl("tasks", "validate", "risky")
    assert shown.returncode == 0 and "warning" in (shown.stdout + shown.stderr).lower()
