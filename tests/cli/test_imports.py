"""seqctl's start-up stays light: no command imports msgspec, typing or anything heavy.

``python -X importtime`` lists every module a process imports; each command runs in a
fresh interpreter against a real daemon, and what it imports beyond a bare
``python -c pass`` must not include the modules below (msgspec alone costs more than
the rest of ``seqctl status`` together; see docs/benchmarks.md, row 2). The commands
typed most, ``seqctl status`` and ``seqctl ping``, must not import even the standard
modules in ``QUICK_AVOIDS``: ``re`` alone costs more than the rest of seqctl's own work.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from functools import cache

HEAVY = (
    "msgspec",
    "typing",
    "typing_extensions",
    "asyncio",
    "pluggy",
    "jsonschema",
    "platformdirs",
    "logging",
    "seqd.model.runs",
    "seqd.rpc.protocol",
    "rich",  # seqctl watch and top only
    "importlib.metadata",  # a command of an installed package only (seqd.cli.extensions)
)
QUICK_AVOIDS = (
    "re",  # with enum, functools, collections: what json, argparse and gettext import
    "enum",
    "collections",
    "json",
    "argparse",
    "gettext",
    "locale",
    "socket",
)
"""Besides ``HEAVY``: what ``seqctl status`` and ``seqctl ping`` avoid."""
SEQCTL = "from seqd.cli.main import main; main()"
"""What the ``seqctl`` script runs (``python -m`` would add runpy's imports)."""
_IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)\s*$", re.MULTILINE)


def imported(argv: list[str]) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``python -X importtime ARGV``; the process and the modules it imported."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *argv], capture_output=True, text=True, timeout=60
    )
    return proc, set(_IMPORTED.findall(proc.stderr))


@cache
def interpreter_modules() -> frozenset[str]:
    """What the interpreter imports on its own (site, .pth files): not seqctl's doing."""
    return frozenset(imported(["-c", "pass"])[1])


def heavy(modules: set[str], avoid: tuple[str, ...] = HEAVY) -> list[str]:
    added = modules - interpreter_modules()
    return sorted(m for m in added if any(m == h or m.startswith(h + ".") for h in avoid))


def seqctl(
    socket: str, *args: str, avoid: tuple[str, ...] = HEAVY
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    proc, modules = imported(["-c", SEQCTL, "--socket", socket, *args])
    assert "seqd.cli.main" in modules, proc.stderr  # the listing was read
    return proc, heavy(modules, avoid)


def test_the_check_sees_a_heavy_import() -> None:
    proc, modules = imported(["-c", "import seqd.cli.main, msgspec"])
    assert proc.returncode == 0, proc.stderr
    assert {"msgspec", "typing"} <= set(heavy(modules))


def test_the_check_sees_what_status_must_avoid() -> None:
    # What `seqctl status` imported before seqd.cli.quick and seqd.rpc.strictjson.
    proc, modules = imported(["-c", "import seqd.cli.main, seqd.cli.parser, json"])
    assert proc.returncode == 0, proc.stderr
    found = heavy(modules, QUICK_AVOIDS)
    assert {"re", "enum", "collections", "json", "argparse", "gettext"} <= set(found), found


def test_status_and_ping_import_no_re_json_argparse_or_socket(daemon, tmp_path) -> None:
    for args in (["status"], ["ping"], ["status", "--json"], ["--json", "ping"]):
        proc, found = seqctl(daemon.socket, *args, avoid=HEAVY + QUICK_AVOIDS)
        assert proc.returncode == 0 and proc.stdout, (args, proc.stderr[-2000:])
        assert found == [], args
    # Nothing listening: the error is printed without them too.
    proc, found = seqctl(str(tmp_path / "none.sock"), "status", avoid=HEAVY + QUICK_AVOIDS)
    assert proc.returncode == 3 and found == [], proc.stderr[-2000:]


def test_status_and_ping_import_nothing_heavy(daemon) -> None:
    proc, found = seqctl(daemon.socket, "status")
    assert proc.returncode == 0 and str(daemon.proc.pid) in proc.stdout, proc
    assert found == []

    proc, found = seqctl(daemon.socket, "ping")
    assert (proc.returncode, proc.stdout) == (0, "pong\n")
    assert found == []

    proc, found = seqctl(daemon.socket, "status", "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["storage"]["name"]
    assert found == []


def test_every_command_imports_nothing_heavy(daemon) -> None:
    # Refused (hello takes no `n`): the error's details are printed as JSON.
    refused, found = seqctl(daemon.socket, "run", "hello", "-i", "name=Ada", "-i", "n:=1")
    assert refused.returncode == 4 and "error:" in refused.stderr and found == [], refused
    proc, found = seqctl(daemon.socket, "--json", "run", "hello", "-i", "name=Ada")
    assert proc.returncode == 0 and found == [], (found, proc.stdout)
    run_id = json.loads(proc.stdout)["id"]
    for args in (
        ["run", "hello", "-i", "name=Bo"],
        ["runs", "ls"],
        ["runs", "ls", "--json", "--all", "--limit", "1"],
        ["runs", "show", run_id],
        ["runs", "logs", run_id],
        ["runs", "wait", run_id],
        ["tasks", "ls"],
        ["tasks", "show", "hello"],
        ["tasks", "validate", "hello"],
        ["plugins", "ls"],
        ["daemon", "reload"],
    ):
        proc, found = seqctl(daemon.socket, *args)
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr[-2000:])
        assert found == [], args

    refused, found = seqctl(daemon.socket, "runs", "show", "0" * 24)
    assert refused.returncode == 4 and "(not_found)" in refused.stderr and found == []


def test_failures_import_nothing_heavy(tmp_path) -> None:
    missing = str(tmp_path / "none.sock")
    proc, found = seqctl(missing, "status")
    assert proc.returncode == 3 and missing in proc.stderr and found == []
    proc, found = seqctl(missing, "run", "hello", "-i", "novalue")
    assert proc.returncode == 2 and found == []


def test_new_habits_import_nothing_heavy(daemon, tmp_path) -> None:
    """Run references, listings with children, --each, JSON errors, did-you-mean and
    the completion helper stay light too."""
    lines = tmp_path / "in.jsonl"
    lines.write_text('{"name": "A"}\n{"name": "B"}\n')
    for args in (
        ["run", "hello", "--each", str(lines), "--wait"],
        ["runs", "show", "last"],
        ["runs", "ls", "--children"],
        ["runs", "ls", "--parent", "last"],
        ["__complete", "tasks"],
    ):
        proc, found = seqctl(daemon.socket, *args)
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr[-2000:])
        assert found == [], args
    for args, status in ((["--json", "runs", "show", "0" * 24], 4), (["runs", "lss"], 2)):
        proc, found = seqctl(daemon.socket, *args)
        assert proc.returncode == status and found == [], (args, found, proc.stderr[-2000:])
