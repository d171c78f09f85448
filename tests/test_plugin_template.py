"""contrib/plugin-template installs as a real distribution, and its tool is called
through seqctl against a real daemon."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent / "contrib" / "plugin-template"


def test_template_plugin_installs_and_its_tool_is_called(make_daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "src"
    shutil.copytree(TEMPLATE, src)
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
         "--no-build-isolation", "--target", str(site), str(src)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    d = make_daemon(env={"PYTHONPATH": str(site)})
    listed = d.seqctl("--json", "plugins", "ls")
    plugins = {p["name"]: p for p in json.loads(listed.stdout)}
    assert plugins["template"]["source"] == "entry-point"
    assert plugins["template"]["contributes"] == {"tools": ["template.greet"]}
    assert plugins["template"]["error"] is None
    called = d.seqctl("--json", "tools", "call", "template.greet", "-p", "name=Ada",
                      "-p", "shout:=true")  # fmt: skip
    assert called.returncode == 0, called.stderr
    assert json.loads(called.stdout)["result"] == {"greeting": "HELLO, ADA!", "caller": "rpc"}
    shown = d.seqctl("tools", "show", "template.greet")
    assert '"shout"' in shown.stdout
    bad = d.seqctl("tools", "call", "template.greet", "-p", "name= ")
    assert bad.returncode == 4 and "blank_name" in bad.stderr
    invalid = d.seqctl("tools", "call", "template.greet")
    assert invalid.returncode == 4 and "params.name" in invalid.stderr
