"""seqctl: argument and input parsing, formatting, exit statuses — then the real daemon."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from seqd.cli import quick
from seqd.cli.inputs import UsageError, build_input, parse_item, read_input
from seqd.cli.output import duration, kv, pretty_json, short_time, size, table, truncate
from seqd.cli.parser import build_parser
from seqd.client import Client

SEQCTL = [sys.executable, "-m", "seqd.cli"]
NOT_A_RUN = "0" * 24


def seqctl(*args: str, socket: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SEQCTL, "--socket", socket, *args],
        capture_output=True,
        text=True,
        input=input,
        timeout=60,
    )


# -- -i and --input ------------------------------------------------------------------------


def test_items_strings_and_json() -> None:
    assert parse_item("name=Ada") == ("name", "Ada")
    assert parse_item("url=http://x/?a=b") == ("url", "http://x/?a=b")
    assert parse_item("empty=") == ("empty", "")
    assert parse_item("n:=5") == ("n", 5)
    assert parse_item("n=5") == ("n", "5")
    assert parse_item("ok:=true") == ("ok", True)
    assert parse_item('tags:=["a", "b"]') == ("tags", ["a", "b"])
    assert parse_item('o:={"k": null}') == ("o", {"k": None})
    assert parse_item('s:="x=y"') == ("s", "x=y")


@pytest.mark.parametrize("bad", ["novalue", "=x", ":=1", "n:=", "n:=[1,", "n:=nope"])
def test_bad_items_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError, match="-i"):
        parse_item(bad)


def test_items_from_files(tmp_path: Path) -> None:
    """``key=@file`` is the file's text (as httpie and curl), ``key:=@file`` its JSON."""
    text = tmp_path / "rows.csv"
    text.write_text("name,amount\nü,1\n")
    data = tmp_path / "rows.json"
    data.write_text('[{"n": 1}, null]')
    assert parse_item(f"csv=@{text}") == ("csv", "name,amount\nü,1\n")
    assert parse_item(f"rows:=@{data}") == ("rows", [{"n": 1}, None])
    assert parse_item('s:="@not-a-file"') == ("s", "@not-a-file")
    assert parse_item(f"e=@{tmp_path}/../{tmp_path.name}/rows.csv")[1].startswith("name")


@pytest.mark.parametrize(
    ("item", "message"),
    [("csv=@/no/such.csv", r"-i csv: cannot read /no/such.csv: No such file or directory"),
     ("d=@{dir}", "cannot read .*: Is a directory"),
     ("b=@{binary}", r"cannot read .*binary: not UTF-8 text"),
     ("j:=@{text}", r"-i 'j:=@.*text': .*text is not JSON"),
     ("j:=@/no/such.json", "-i j: cannot read /no/such.json")],
)  # fmt: skip
def test_unreadable_item_files_are_usage_errors(tmp_path: Path, item: str, message: str) -> None:
    (tmp_path / "binary").write_bytes(b"\xff\xfe")
    (tmp_path / "text").write_text("not json")
    item = item.format(dir=tmp_path, binary=tmp_path / "binary", text=tmp_path / "text")
    with pytest.raises(UsageError, match=message):
        parse_item(item)


def test_input_inline_file_and_stdin(tmp_path: Path) -> None:
    assert read_input('{"a": 1}') == {"a": 1}
    f = tmp_path / "in.json"
    f.write_text('{"name": "Ada", "n": [1, 2]}')
    assert read_input(f"@{f}") == {"name": "Ada", "n": [1, 2]}
    assert read_input("-", stdin=io.StringIO('{"from": "stdin"}')) == {"from": "stdin"}


@pytest.mark.parametrize(
    ("spec", "message"),
    [("[1, 2]", "JSON object"), ('"s"', "JSON object"), ("{nope", "not valid JSON"),
     ("@/no/such/file.json", "cannot read")],
)  # fmt: skip
def test_bad_input_is_a_usage_error(spec: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        read_input(spec)


def test_items_override_input(tmp_path: Path) -> None:
    got = build_input('{"name": "A", "keep": 1}', ["name=B", "n:=2", "n:=3"])
    assert got == {"name": "B", "keep": 1, "n": 3}
    assert build_input(None, []) == {}


# -- the parser --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["--json", "--socket", "/s", "status"],
        ["status", "--json", "--socket", "/s"],
        ["--socket=/s", "runs", "ls", "--json", "--status", "failed", "--limit", "5"],
        ["--json", "run", "hello", "-i", "a=b", "-i", "c:=1", "--detach", "--socket", "/s"],
        ["tasks", "list", "--tag", "x"],
        ["daemon", "reload"],
        ["plugins", "ls"],
        ["runs", "logs", "abcd", "-f", "--after", "3"],
    ],
)
def test_global_flags_anywhere_and_lazy_parser_agrees_with_full(argv: list[str]) -> None:
    lazy = build_parser(argv).parse_args(argv)
    full = build_parser(None).parse_args(argv)
    assert vars(lazy) == vars(full)
    if "--json" in argv:
        assert lazy.json is True
    if any(a.startswith("--socket") for a in argv):
        assert lazy.socket == "/s"
    assert isinstance(lazy.handler, tuple)


@pytest.mark.parametrize(
    "argv",
    [
        ["status"],
        ["ping"],
        ["--json", "status"],
        ["status", "--json"],
        ["--json", "ping", "--json"],
        ["--socket", "/s", "status"],
        ["status", "--socket", "/s"],
        ["--socket=/s", "ping"],
        ["ping", "--socket="],
        ["--socket", "", "status"],
        ["--socket=-x", "status"],
        ["--socket", "status", "ping"],  # a socket named "status"
        ["--socket", "/a", "status", "--socket", "/b"],
        ["--socket=/a", "--socket", "/b", "--json", "ping"],
    ],
)
def test_quick_lines_read_as_argparse_reads_them(argv: list[str]) -> None:
    args = quick.parse(argv)
    assert args is not None
    assert vars(args) == vars(build_parser(argv).parse_args(argv))
    assert vars(args) == vars(build_parser(None).parse_args(argv))


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--json"],
        ["status", "status"],
        ["status", "ping"],
        ["status", "extra"],
        ["daemon", "status"],
        ["runs", "ls"],
        ["STATUS"],
        ["", "status"],
        ["status", "--"],
        ["-h"],
        ["status", "--help"],
        ["--version"],
        ["status", "--js"],  # argparse's abbreviations are argparse's
        ["--so", "/s", "status"],
        ["status", "--json=1"],
        ["status", "--socket"],
        ["status", "--socket", "-x"],
        ["--socket", "-", "status"],
    ],
)
def test_anything_else_is_left_to_argparse(argv: list[str]) -> None:
    assert quick.parse(argv) is None


def test_quick_commands_keep_argparse_help_and_errors(tmp_path: Path) -> None:
    sock = str(tmp_path / "nothing.sock")
    for noun in ("status", "ping"):
        proc = seqctl(noun, "--help", socket=sock)
        assert proc.returncode == 0 and proc.stdout.startswith(f"usage: seqctl {noun} "), proc
        assert "--socket PATH" in proc.stdout and "--json" in proc.stdout
        proc = seqctl(noun, "extra", socket=sock)
        assert proc.returncode == 2 and "unrecognized arguments: extra" in proc.stderr, proc
    proc = seqctl("status", "--socket", socket=sock)
    assert proc.returncode == 2 and "expected one argument" in proc.stderr, proc


def test_flag_before_noun_is_not_reset_by_subparser() -> None:
    args = build_parser(None).parse_args(["--json", "--socket", "/a", "runs", "ls"])
    assert args.json is True and args.socket == "/a"
    args = build_parser(None).parse_args(["runs", "ls"])
    assert args.json is False and args.socket is None


# -- formatting ----------------------------------------------------------------------------------


def test_table_aligns_and_cleans_cells() -> None:
    text = table(["id", "task"], [("a", "hello"), ("bbbb", "x\ny"), ("c", None)])
    lines = text.splitlines()
    assert lines[0] == "ID    TASK"
    assert lines[1] == "a     hello"
    assert lines[2] == "bbbb  x y"
    assert lines[3] == "c"


def test_table_truncates_to_width_with_ellipsis() -> None:
    rows = [("0123456789abcdef", "a" * 80, "ok")]
    text = table(["id", "description", "v"], rows, width=50)
    assert all(len(line) <= 50 for line in text.splitlines())
    assert "…" in text and "0123456789abcdef" in text  # the widest column gave way
    # No width: nothing is cut.
    assert "a" * 80 in table(["id", "description", "v"], rows)
    assert truncate("hello", 3) == "he…" and truncate("hi", 3) == "hi"


def test_kv_block() -> None:
    text = kv([("version", "1"), ("task dirs", "a\nb"), ("x", None)])
    assert text.splitlines() == ["version    1", "task dirs  a", "           b", "x"]


@pytest.mark.parametrize(
    "value",
    [
        {"version": "1", "runs": {}, "dirs": ["/a", "/b"], "none": [], "n": None, "ok": True},
        {"deep": [[1, [2.5, {"x": {"y": [False]}}]], -0.0, 10**20, 'é\n"\t\u2028']},
        "pong",
        [],
        {"": ""},
        (1, (2,), {"t": ()}),  # tuples are arrays
        # Left to json: keys it converts, NaN and Infinity, other types.
        {1: "a", None: [], 2.5: {}, False: 0},
        {"inf": float("inf"), "nan": [float("nan")]},
    ],
)
def test_pretty_json_is_json_dumps_indent_2(value: object) -> None:
    assert pretty_json(value) == json.dumps(value, indent=2, ensure_ascii=False)


def test_pretty_json_refuses_what_json_refuses() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        pretty_json({"a": [object()]})
    cycle: list[object] = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match="Circular reference"):
        pretty_json(cycle)


def test_durations_sizes_times() -> None:
    assert duration(0.35) == "350ms"
    assert duration(1.23) == "1.2s"
    assert duration(184) == "3m04s"
    assert duration(7500) == "2h05m"
    assert duration(3 * 86400 + 4 * 3600) == "3d04h"
    assert duration(None) == ""
    assert size(512) == "512 B" and size(1536) == "1.5 KiB" and size(45 * 2**20) == "45.0 MiB"
    now = datetime.now().astimezone()
    assert short_time(now.isoformat(), now) == now.strftime("%H:%M:%S")
    old = now - timedelta(days=400)
    assert short_time(old.isoformat(), now) == old.strftime("%Y-%m-%d %H:%M")
    assert short_time("2026-01-02T03:04:05.000000Z").count(":") >= 1
    assert short_time(None) == ""


# -- exit statuses without a daemon ---------------------------------------------------------


def test_unreachable_daemon_is_exit_3_with_one_clear_line(tmp_path: Path) -> None:
    sock = str(tmp_path / "nothing.sock")
    for argv in (["status"], ["runs", "ls"], ["run", "hello", "-i", "name=x"]):
        proc = seqctl(*argv, socket=sock)
        assert proc.returncode == 3, proc
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert sock in lines[0]
        assert "seqd" in lines[0] and "systemctl --user start seqd" in lines[0]
        assert proc.stdout == ""


def test_seqd_socket_env_is_used(tmp_path: Path) -> None:
    sock = str(tmp_path / "env.sock")
    proc = subprocess.run(
        [*SEQCTL, "ping"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "SEQD_SOCKET": sock},
        timeout=60,
    )
    assert proc.returncode == 3 and sock in proc.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "hello", "-i", "novalue"],
        ["run", "hello", "-i", "n:=[1,"],
        ["run", "hello", "--input", "@/no/such/input.json"],
        ["run", "hello", "--input", "[1]"],
        ["runs", "ls", "--limit", "0"],
        ["runs", "ls", "--status", "exploded"],
        ["no-such-command"],
        [],
    ],
)
def test_usage_errors_exit_2_before_connecting(tmp_path: Path, argv: list[str]) -> None:
    proc = seqctl(*argv, socket=str(tmp_path / "nothing.sock"))
    assert proc.returncode == 2, proc
    assert "error" in proc.stderr and "cannot reach" not in proc.stderr


def test_help_texts_have_examples() -> None:
    top = subprocess.run([*SEQCTL, "--help"], capture_output=True, text=True, timeout=60)
    assert top.returncode == 0 and "examples:" in top.stdout and "exit status" in top.stdout
    run = subprocess.run([*SEQCTL, "run", "--help"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0
    assert "KEY:=JSON" in run.stdout and "--input @FILE" in run.stdout and "examples:" in run.stdout


def test_status_path_imports_stay_light(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from seqd.cli.main import main\n"
        f"rc = main(['--socket', {str(tmp_path / 'none.sock')!r}, 'status'])\n"
        "heavy = ('asyncio', 'pluggy', 'jsonschema', 'platformdirs', 'logging')\n"
        "print(rc, ','.join(m for m in heavy if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.split() == ["3"], proc


# -- against the real daemon ---------------------------------------------------------------


def failing_task(tmp_path: Path) -> Path:
    """Extra task folders for ``make_daemon``: one that fails, one that logs lines."""
    extra = tmp_path / "extra"
    boom = extra / "boom"
    boom.mkdir(parents=True)
    (boom / "config.json").write_text('{"type": "python", "description": "always fails"}')
    (boom / "code.py").write_text("def run(ctx, **inputs):\n    raise ValueError('kaboom')\n")
    lines = extra / "lines"
    lines.mkdir()
    (lines / "config.json").write_text(
        json.dumps(
            {
                "type": "shell",
                "description": "prints three lines",
                "command": ["sh", "-c", "echo one; echo two >&2; sleep 1; echo three"],
            }
        )
    )
    return extra


def test_status_ping_daemon(daemon) -> None:
    proc = daemon.seqctl("status")
    assert proc.returncode == 0, proc
    for key in ("version", "pid", "uptime", "storage", "socket", "runs", "workers", "rss"):
        assert any(line.startswith(key) for line in proc.stdout.splitlines()), key
    assert str(daemon.proc.pid) in proc.stdout
    st = json.loads(daemon.seqctl("--json", "status").stdout)
    assert st["pid"] == daemon.proc.pid and "workers" in st
    assert daemon.seqctl("ping").stdout.strip() == "pong"
    assert daemon.seqctl("daemon", "ping", "--json").stdout.strip() == '"pong"'
    assert daemon.seqctl("daemon", "status", "--json").returncode == 0


def test_plugins_and_tasks(daemon) -> None:
    proc = daemon.seqctl("plugins", "ls")
    assert proc.returncode == 0 and proc.stdout.startswith("NAME"), proc
    plugins = json.loads(daemon.seqctl("plugins", "ls", "--json").stdout)
    assert plugins and all("source" in p for p in plugins)

    proc = daemon.seqctl("tasks", "ls")
    assert proc.returncode == 0, proc
    names = {line.split()[0] for line in proc.stdout.splitlines()[1:]}
    assert {"hello", "slow", "disk-usage"} <= names
    tagged = json.loads(daemon.seqctl("--json", "tasks", "ls", "--tag", "example").stdout)
    assert {"hello", "slow", "disk-usage"} <= {t["name"] for t in tagged}

    proc = daemon.seqctl("tasks", "show", "hello")
    assert proc.returncode == 0 and "input schema" in proc.stdout and '"name"' in proc.stdout

    assert daemon.seqctl("tasks", "validate", "hello").returncode == 0
    bad = daemon.seqctl("tasks", "validate", "bad-config")
    assert bad.returncode == 1 and "problem" in bad.stdout
    missing = daemon.seqctl("tasks", "show", "no-such-task")
    assert missing.returncode == 4 and "(not_found)" in missing.stderr


def test_run_prints_output_and_exit_statuses(make_daemon, tmp_path: Path) -> None:
    d = make_daemon(tasks=[failing_task(tmp_path)])
    ok = d.seqctl("run", "hello", "-i", "name=Ada")
    assert ok.returncode == 0, ok
    assert "Ada" in ok.stdout and not ok.stdout.startswith('"')  # a string printed as is

    as_json = d.seqctl("--json", "run", "hello", "--input", '{"name": "Bo"}', "-i", "excited:=true")
    run = json.loads(as_json.stdout)
    assert as_json.returncode == 0 and run["status"] == "succeeded" and "Bo!" in run["output"]
    assert run["input"] == {"name": "Bo", "excited": True}

    piped = d.seqctl("run", "hello", "--input", "-", input='{"name": "Stdin"}')
    assert piped.returncode == 0 and "Stdin" in piped.stdout

    failed = d.seqctl("run", "boom")
    assert failed.returncode == 1, failed
    assert "kaboom" in failed.stderr and "Traceback" in failed.stderr

    refused = d.seqctl("run", "no-such-task")
    assert (
        refused.returncode == 4 and "error:" in refused.stderr and "(not_found)" in refused.stderr
    )

    invalid = d.seqctl("run", "slow", "-i", "seconds=soon")
    assert invalid.returncode == 4 and "error:" in invalid.stderr

    dict_output = d.seqctl("run", "slow", "-i", "seconds:=0")
    assert dict_output.returncode == 0 and "slept_s" in json.loads(dict_output.stdout)


def test_detach_wait_timeout_cancel(daemon) -> None:
    run_id = daemon.seqctl("run", "slow", "-i", "seconds:=60", "--detach").stdout.strip()
    assert len(run_id) >= 8

    waited = daemon.seqctl("runs", "wait", run_id, "--timeout", "1")
    assert waited.returncode == 1 and run_id in waited.stderr and "still" in waited.stderr

    cancel = daemon.seqctl("runs", "cancel", run_id, "--reason", "enough")
    assert cancel.returncode == 0, cancel
    final = daemon.seqctl("--json", "runs", "wait", run_id)
    assert final.returncode == 1 and json.loads(final.stdout)["status"] == "cancelled"

    timed = daemon.seqctl("run", "slow", "-i", "seconds:=60", "--timeout", "1")
    assert timed.returncode == 1 and "still" in timed.stderr
    with daemon.client() as c:
        for r in (
            c.list_runs(task="slow", status="running").runs
            + c.list_runs(task="slow", status="queued").runs
        ):
            c.cancel(r.id)

    detached = json.loads(daemon.seqctl("--json", "run", "hello", "--detach").stdout)
    assert detached["task"] == "hello" and detached["id"]


def test_ctrl_c_stops_waiting_but_not_the_run(daemon) -> None:
    # Re-arm SIGINT's default handler in case this test runs with SIGINT ignored.
    launcher = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from seqd.cli.main import main; sys.exit(main())"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", launcher, "--socket", daemon.socket, "run", "slow", "-i",
         "seconds:=60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        with daemon.client() as c:
            deadline = time.monotonic() + 30
            while not c.list_runs(task="slow").runs:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            run_id = c.list_runs(task="slow").runs[0].id
            time.sleep(0.3)  # let seqctl enter its wait
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
            assert proc.returncode == 130, err
            assert f"seqctl runs cancel {run_id}" in err and "background" in err
            assert c.get_run(run_id).status in ("queued", "running")
            c.cancel(run_id)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_reader_gone_before_the_output_is_exit_141_quietly(daemon) -> None:
    # seqctl leaves with os._exit after flushing; a failed final flush must not be an
    # "Exception ignored" (and exit 120) as in the interpreter's own teardown.
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write to the pipe fails with EPIPE
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    try:
        proc = subprocess.run(
            [*SEQCTL, "--socket", daemon.socket, "ping"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=buffered,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert proc.returncode == 141 and proc.stderr == "", proc


def test_follow_logs_and_runs_commands(make_daemon, tmp_path: Path) -> None:
    d = make_daemon(tasks=[failing_task(tmp_path)])
    followed = d.seqctl("run", "lines", "--follow")
    assert followed.returncode == 0, followed
    for word in ("one", "two", "three"):
        assert word in followed.stderr

    with d.client() as c:
        run = c.list_runs(task="lines").runs[0]
    logs = d.seqctl("runs", "logs", run.id)
    assert logs.returncode == 0
    texts = logs.stdout.splitlines()
    assert any(line.endswith("one") and " stdout " in line for line in texts)
    assert any(line.endswith("two") and " stderr " in line for line in texts)
    assert texts[0][2] == ":" and texts[0][8] == "."  # HH:MM:SS.mmm
    jlines = [json.loads(x) for x in d.seqctl("--json", "runs", "logs", run.id).stdout.splitlines()]
    assert {"one", "two", "three"} <= {x["text"] for x in jlines}
    after = d.seqctl("--json", "runs", "logs", run.id, "--after", str(jlines[0]["seq"]))
    assert len(after.stdout.splitlines()) == len(jlines) - 1

    live = d.seqctl("run", "lines", "--detach").stdout.strip()
    follow = d.seqctl("runs", "logs", live, "--follow")
    assert follow.returncode == 0 and "three" in follow.stdout

    failed = d.seqctl("run", "boom")
    assert failed.returncode == 1
    with d.client() as c:
        boom_id = c.list_runs(task="boom").runs[0].id
    show = d.seqctl("runs", "show", boom_id)
    assert show.returncode == 0 and "failed" in show.stdout and "kaboom" in show.stdout

    listing = d.seqctl("runs", "ls")
    assert listing.returncode == 0 and listing.stdout.startswith("ID")
    assert boom_id in listing.stdout and run.id in listing.stdout
    failed_only = json.loads(d.seqctl("--json", "runs", "ls", "--status", "failed").stdout)
    assert [r["id"] for r in failed_only["runs"]] == [boom_id]

    one = d.seqctl("runs", "ls", "--limit", "1")
    assert len(one.stdout.splitlines()) == 2 and "--cursor" in one.stderr
    every = json.loads(d.seqctl("--json", "runs", "ls", "--limit", "1", "--all").stdout)
    assert every["next_cursor"] is None and len(every["runs"]) >= 3

    missing = d.seqctl("runs", "show", NOT_A_RUN)
    assert missing.returncode == 4 and "(not_found)" in missing.stderr


def test_reload_and_shutdown(daemon) -> None:
    reload = daemon.seqctl("daemon", "reload")
    assert reload.returncode == 0 and "reloaded" in reload.stdout
    down = daemon.seqctl("daemon", "shutdown")
    assert down.returncode == 0, down
    daemon.proc.wait(30)
    after = daemon.seqctl("status")
    assert after.returncode == 3 and daemon.socket in after.stderr


def test_client_and_seqctl_agree(daemon) -> None:
    with Client(daemon.socket) as c:
        submitted = c.submit("hello", {"name": "Cy"}, wait=True, timeout_s=60)
    shown = json.loads(daemon.seqctl("--json", "runs", "show", submitted.id).stdout)
    assert shown["id"] == submitted.id and shown["output"] == submitted.output


def test_waiting_survives_a_daemon_restart(daemon) -> None:
    proc = subprocess.Popen(
        [*SEQCTL, "--socket", daemon.socket, "run", "slow", "-i", "seconds:=3", "--timeout", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with daemon.client() as c:
            deadline = time.monotonic() + 30
            while not c.list_runs(task="slow", status="running").runs:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        daemon.kill()  # a crash: seqctl's connection drops mid-wait
        daemon.start()
        _, err = proc.communicate(timeout=90)
        # The run's outcome (or "still running" after --timeout), not "unreachable" (3).
        assert proc.returncode in (0, 1), err
        assert "lost the daemon" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
