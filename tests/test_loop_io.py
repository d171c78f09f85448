"""No blocking file I/O on the event loop: a real daemon in asyncio debug mode
(``slow_callback_ms = 20``) under a load that touches files every way the daemon does
— run logs, the file store, ``file.*`` tools, folder tools, a reload with new folders
to watch, an export beside it — reports no file I/O on its loop; and the detector
itself (``seqd.daemon.loopwatch``) tells file I/O from a callback that was merely slow.

How file I/O is told from a slow machine: by what the callback did, not by how long
it took. The detector sees each file operation on the loop's thread through Python's
audit events, so a slow callback on a starved CPU is reported as "no file I/O on the
loop" (allowed here), and a file operation on the loop is reported however fast it
was (never allowed while the daemon serves)."""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvloop

from seqd.daemon import loopwatch
from tests.conftest import Daemon

IO_TASK = """\
def run(ctx, n: int = 300, size: int = 300_000):
    for i in range(n):
        ctx.log(f"line {i} " + "x" * 100)
    blob = "y" * size
    ctx.tool("file.write", path="a/b.txt", content=blob, make_dirs=True)
    got = ctx.tool("file.read", path="a/b.txt")
    ctx.tool("file.write", path="t.txt", content=blob, scope="task")
    ctx.tool("file.list", path="a")
    ctx.tool("file.delete", path="a/b.txt")
    ctx.tool("kv.set", key="k", value={"n": n})
    ctx.tool("demo.upper", text="abc")
    return len(got["content"])
"""


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def file_io(log: str) -> list[str]:
    """Lines saying the process did file I/O on its loop (the daemon's: while it
    served, from ready until shutdown began): named call sites, and slow callbacks
    that touched files."""
    serving = log.split("ready: listening on", 1)[-1].split("stopping:", 1)[0]
    return [
        line
        for line in serving.splitlines()
        if "file I/O on the event loop" in line or "— file I/O on the loop:" in line
    ]


@pytest.mark.parametrize("storage", ["sqlite", "fs"])
def test_a_loaded_daemon_does_no_file_io_on_its_loop(
    make_daemon, tmp_path: Path, storage: str
) -> None:  # type: ignore[no-untyped-def]
    tasks, tools = tmp_path / "load-tasks", tmp_path / "tools"
    write(tasks / "io-load" / "config.json", json.dumps({"type": "python"}))
    write(tasks / "io-load" / "code.py", IO_TASK)
    write(tools / "demo" / "upper" / "config.json", json.dumps({"description": "upper"}))
    write(tools / "demo" / "upper" / "code.py", "def run(ctx, text: str) -> str:\n"
                                                "    return text.upper()\n")  # fmt: skip
    env = {"SEQD_SLOW_CALLBACK_MS": "20"}
    d: Daemon = make_daemon(
        args=["--storage", storage, "--tools", str(tools), "--workers", "4"],
        env=env,
        tasks=[tasks],
    )
    with d.client() as c:
        ids = []
        for i in range(12):
            ids.append(c.submit("io-load", {}).id)
            ids.append(c.submit("echo-shell", {"word": str(i)}).id)
        ids.append(c.submit("big-output", {"mib": 5}).id)
        c.call_tool("file.write", {"path": "g.txt", "content": "z" * 1_000_000})
        assert len(c.call_tool("file.read", {"path": "g.txt"}).result["content"]) == 1_000_000
        # a reload, and folders for the watchers to add while runs go on
        (d.tasks_dir / "hello" / "config.json").touch()
        c.reload()
        shutil.copytree(d.tasks_dir / "hello", d.tasks_dir / "hello2")
        shutil.copytree(tools / "demo", tools / "demo2")
        deadline = time.monotonic() + 20
        while not ({"hello2"} <= {t.name for t in c.tasks()} and
                   "demo2.upper" in {t.name for t in c.tools()}):  # fmt: skip
            assert time.monotonic() < deadline, "the watchers did not see the new folders"
            time.sleep(0.1)
        for run_id in ids:
            assert c.wait(run_id, 120).status == "succeeded"
        assert len(c.logs(ids[0]).lines) >= 300
        export = subprocess.run(
            [sys.executable, "-m", "seqd", "export", "--state-dir", str(d.state_dir),
             "--storage", storage, "-o", str(tmp_path / "export.jsonl")],
            capture_output=True, text=True, timeout=120,
            env={**os.environ, **env, "SEQD_CONFIG": ""},
        )  # fmt: skip
    assert export.returncode == 0, export.stderr
    assert f"exported {len(ids)} runs" in export.stderr
    d.stop()
    log = d.log_text()
    assert "loop debug on" in log and "loop debug on" in export.stderr
    assert file_io(log) == []
    assert file_io(export.stderr) == []


# -- the detector ------------------------------------------------------------------------


@pytest.fixture(params=["asyncio", "uvloop"])
def loop(request: pytest.FixtureRequest) -> Iterator[asyncio.AbstractEventLoop]:
    new = uvloop.new_event_loop() if request.param == "uvloop" else asyncio.new_event_loop()
    yield new
    new.close()


def test_the_detector_tells_file_io_from_slow_callbacks(
    loop: asyncio.AbstractEventLoop, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = tmp_path / "f.txt"
    target.write_text("x")

    def slow_cpu() -> None:
        end = time.perf_counter() + 0.06
        while time.perf_counter() < end:
            pass

    def slow_file() -> None:
        with open(target, "rb") as f:  # noqa: PTH123 - on the loop on purpose
            f.read()
        slow_cpu()

    def quick_file() -> None:
        os.listdir(tmp_path)

    def not_file_io() -> None:
        with open("/proc/self/statm", "rb") as f:  # psutil's kind of read
            f.read()
        importlib.import_module("loopwatch_probe")  # reads its file: not file I/O here

    async def main() -> None:
        watch = loopwatch.enable(asyncio.get_running_loop(), 20)
        watch.armed = True
        for fn in (slow_cpu, slow_file, quick_file, not_file_io):
            asyncio.get_running_loop().call_soon(fn)
            await asyncio.sleep(0)
        await asyncio.to_thread(os.listdir, tmp_path)  # off the loop: fine
        watch.armed = False

    write(tmp_path / "mods" / "loopwatch_probe.py", "X = 1\n")
    sys.path.insert(0, str(tmp_path / "mods"))
    sys.modules.pop("loopwatch_probe", None)
    try:
        with caplog.at_level(logging.WARNING):
            loop.run_until_complete(main())
    finally:
        loopwatch.disable()
        sys.path.remove(str(tmp_path / "mods"))
    slow = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert any("slow_cpu" in m and m.endswith("— no file I/O on the loop") for m in slow), slow
    assert any("slow_file" in m and f"file I/O on the loop: open {target}" in m for m in slow)
    named = [r.getMessage() for r in caplog.records if r.name == "seqd.daemon.loopwatch"]
    here = Path(__file__).name
    assert any(f"open {target} at " in m and here in m for m in named), named
    assert any(f"os.listdir {tmp_path} at " in m and here in m for m in named), named
    assert len([m for m in named if "os.listdir" in m]) == 1  # the thread's is not
    assert not [m for m in named if "/proc/" in m or "loopwatch_probe" in m], named
