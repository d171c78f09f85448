"""The shell task type with real processes, real files and a small in-test Job."""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import os
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import psutil
import pytest
import uvloop

from seqd.builtin.tasks.shell import ShellOptions, ShellTaskType
from seqd.config.settings import Config, ConfigError
from seqd.errors import TaskFailed
from seqd.model.runs import Resources, Run
from seqd.plugins.host import PluginHost
from seqd.plugins.tasktype import Services, TaskSource, TaskType

T = TypeVar("T")


# -- test doubles and helpers ---------------------------------------------------------


@dataclass
class FakeJob:
    """Just enough of the engine's Job: lines kept in memory up to a byte cap."""

    run: Run
    task: TaskSource
    input: dict[str, Any]
    work_dir: str
    cap_bytes: int = 10 * 1024 * 1024
    on_line: Callable[[FakeJob, str, str], None] | None = None
    lines: list[tuple[str, str]] = field(default_factory=list)
    logged_bytes: int = 0
    full: bool = False
    pids: list[int | None] = field(default_factory=list)
    resources: Resources | None = None

    @property
    def work_path(self) -> str:
        return self.work_dir

    async def wait_logged(self, backlog_bytes: int = 1 << 20) -> None:
        return None

    def log(self, stream: str, text: str) -> None:
        if self.full:
            return
        size = len(text.encode()) + 1
        if self.logged_bytes + size > self.cap_bytes:
            self.full = True
            return
        self.logged_bytes += size
        self.lines.append((stream, text))
        if self.on_line is not None:
            self.on_line(self, stream, text)

    @property
    def log_full(self) -> bool:
        return self.full

    async def set_pid(self, pid: int | None) -> None:
        self.pids.append(pid)

    def set_resources(self, resources: Resources) -> None:
        self.resources = resources

    def out(self, stream: str = "stdout") -> list[str]:
        return [text for s, text in self.lines if s == stream]


def make_source(
    base: Path, name: str = "t", config: dict[str, Any] | None = None, **options: Any
) -> TaskSource:
    folder = base / "tasks" / name
    folder.mkdir(parents=True, exist_ok=True)
    return TaskSource(
        name=name,
        dir=str(folder),
        version="v1",
        type="shell",
        config={"type": "shell", **(config or {}), **options},
        options=msgspec.convert(options, ShellOptions),
    )


_run_numbers = itertools.count(1)


def make_job(
    base: Path, source: TaskSource, inputs: dict[str, Any] | None = None, **kw: Any
) -> FakeJob:
    work = base / "work" / f"run{next(_run_numbers)}"
    work.mkdir(parents=True, mode=0o700)
    run = Run(id=f"r-{work.name}", task=source.name, status="running", created_at="now")
    return FakeJob(run=run, task=source, input=dict(inputs or {}), work_dir=str(work), **kw)


async def started(
    type_config: dict[str, Any] | None = None, passthrough: list[str] | None = None
) -> ShellTaskType:
    tt = ShellTaskType()
    cfg = Config(task_types={"shell": type_config} if type_config is not None else {})
    if passthrough is not None:
        cfg.task_env.passthrough = passthrough
    await tt.start(Services(config=cfg, state_dir="/nonexistent", node="test"))
    return tt


def arun(coro: Coroutine[Any, Any, T], timeout: float = 60, loop: str = "asyncio") -> T:
    """Run on the stdlib loop or on uvloop (what the daemon uses)."""
    factory = uvloop.new_event_loop if loop == "uvloop" else asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(asyncio.wait_for(coro, timeout))


def execute(
    tmp_path: Path,
    source: TaskSource,
    inputs: dict[str, Any] | None = None,
    type_config: dict[str, Any] | None = None,
    loop: str = "asyncio",
    passthrough: list[str] | None = None,
    **job_kw: Any,
) -> tuple[FakeJob, Any]:
    """Run one job; returns it and the output, or the TaskFailed raised."""
    job = make_job(tmp_path, source, inputs, **job_kw)

    async def main() -> Any:
        tt = await started(type_config, passthrough)
        try:
            return await tt.execute(job)
        except TaskFailed as exc:
            return exc
        finally:
            await tt.stop(1)

    return job, arun(main(), loop=loop)


def live_members(pgid: int) -> list[psutil.Process]:
    out = []
    for p in psutil.process_iter():
        try:
            if os.getpgid(p.pid) == pgid and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return out


def group_gone(pgid: int, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while live_members(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


async def until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition never became true")
        await asyncio.sleep(0.01)


# -- registration and check() -----------------------------------------------------------


def test_registered_through_the_plugin_host() -> None:
    host = PluginHost()
    host.load(builtins=["task_shell"], entry_points=False)
    tt = host.task_types.get("shell")
    assert isinstance(tt, ShellTaskType) and isinstance(tt, TaskType)
    assert host.records["task_shell"].contributes == {"task_types": ["shell"]}
    assert tt.defining_files == () and tt.stats() == {"running": 0}


def test_options_are_strict() -> None:
    with pytest.raises(msgspec.ValidationError, match="commandd"):
        msgspec.convert({"command": ["true"], "commandd": 1}, ShellOptions)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"command": ["true"], "env": {"A": 1}}, ShellOptions)


def test_check_reports_command_shape(tmp_path: Path) -> None:
    tt = ShellTaskType()

    def problems(**opts: Any) -> list[tuple[str, str]]:
        config = opts.pop("config", None)
        return [
            (p.where, p.message) for p in tt.check(make_source(tmp_path, config=config, **opts))
        ]

    assert problems(command=["echo", "{x}"]) == []
    assert problems(command="echo hi", shell=True) == []
    ((where, message),) = problems(command="echo hi")
    assert where == "config.json: command" and '"shell": true' in message
    assert problems(command=[])[0][0] == "config.json: command"
    assert problems(command=["echo"], shell=True)[0][0] == "config.json: command"
    assert problems(command="  ", shell=True)[0][0] == "config.json: command"
    assert problems(command=["true"], env={"A=B": "x"})[0][0] == "config.json: env"
    strict = {"inputs": {"type": "object", "properties": {"x": {}}, "additionalProperties": False}}
    assert problems(command=["echo", "{x}"], config=strict) == []
    ((where, message),) = problems(command=["echo", "{y}"], config=strict)
    assert "{y}" in message


def test_check_confines_cwd(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    source = make_source(tmp_path, command=["true"], cwd="../")
    (Path(source.dir) / "sub").mkdir()
    (Path(source.dir) / "escape").symlink_to(outside)
    tt = ShellTaskType()
    assert [p.where for p in tt.check(source)] == ["config.json: cwd"]
    assert [p.where for p in tt.check(make_source(tmp_path, command=["true"], cwd="escape"))] == [
        "config.json: cwd"
    ]
    assert tt.check(make_source(tmp_path, command=["true"], cwd="sub")) == []
    assert [p.where for p in tt.check(make_source(tmp_path, command=["true"], cwd="nope"))] == [
        "config.json: cwd"
    ]

    async def allowed() -> list[Any]:
        loose = await started({"allow_cwd_outside": True})
        return loose.check(make_source(tmp_path, command=["true"], cwd="escape"))

    assert arun(allowed()) == []


def test_type_config_is_strict() -> None:
    with pytest.raises(ConfigError, match="kill_grace"):
        arun(started({"kill_grace": 1}))


# -- running -----------------------------------------------------------------------------


def test_argv_placeholders(tmp_path: Path) -> None:
    source = make_source(tmp_path, command=["echo", "hello {who}", "{{who}}", "{n}-{flag}"])
    job, out = execute(tmp_path, source, {"who": "world", "n": 3, "flag": False})
    assert out == {"exit_code": 0}
    assert job.out() == ["hello world {who} 3-false"]
    assert len(job.pids) == 2 and job.pids[0] and job.pids[1] is None
    assert job.resources is not None and job.resources.peak_rss_bytes


def test_shell_parameter_syntax_is_not_a_placeholder(tmp_path: Path) -> None:
    source = make_source(tmp_path, command=["sh", "-c", "echo ${SEQD_INPUT_WHO}-{who}"])
    job, out = execute(tmp_path, source, {"who": "w"})
    assert out == {"exit_code": 0}
    assert job.out() == ["w-w"]


def test_placeholder_errors(tmp_path: Path) -> None:
    source = make_source(tmp_path, command=["echo", "{missing}"])
    job, err = execute(tmp_path, source, {"other": 1})
    assert isinstance(err, TaskFailed) and err.type == "validation"
    assert "missing" in err.message and job.pids == []
    source = make_source(tmp_path, command=["echo", "{xs}"])
    _, err = execute(tmp_path, source, {"xs": [1, 2]})
    assert isinstance(err, TaskFailed) and err.type == "validation" and "xs" in err.message


def test_shell_string_gets_inputs_from_env(tmp_path: Path) -> None:
    source = make_source(
        tmp_path,
        command='echo "$SEQD_INPUT_NAME_X|$SEQD_INPUT_ON|$SEQD_TASK|$SEQD_RUN_ID"; '
        'echo "$SEQD_INPUT"; cat "$SEQD_INPUT_FILE"; echo; pwd; echo "$SEQD_TASK_DIR"',
        shell=True,
    )
    inputs = {"name-x": "v 1", "on": True, "nested": {"a": 1}}
    job, out = execute(tmp_path, source, inputs)
    assert out == {"exit_code": 0}
    first, as_json, from_file, cwd, task_dir = job.out()
    assert first == f"v 1|true|t|{job.run.id}"
    assert json.loads(as_json) == inputs and json.loads(from_file) == inputs
    assert cwd == os.path.realpath(source.dir) and task_dir == source.dir


def test_no_substitution_into_shell_strings(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = f"; touch {marker}"
    source = make_source(tmp_path, command='echo {x} "$SEQD_INPUT_X"', shell=True)
    job, out = execute(tmp_path, source, {"x": evil})
    assert out == {"exit_code": 0}
    assert job.out() == [f"{{x}} {evil}"]
    argv_source = make_source(tmp_path, command=["echo", "{x}"])
    job, _ = execute(tmp_path, argv_source, {"x": evil})
    assert job.out() == [evil]
    assert not marker.exists()


def test_environment_is_clean_unless_inherited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEQD_TEST_SECRET", "s3cret")
    clean = make_source(tmp_path, command=["env"], env={"FOO": "bar"})
    job, _ = execute(tmp_path, clean)
    env = dict(line.split("=", 1) for line in job.out())
    assert "SEQD_TEST_SECRET" not in env
    assert env["FOO"] == "bar" and env["PATH"] == os.environ["PATH"]
    inherit = make_source(tmp_path, command=["env"], inherit_env=True)
    job, _ = execute(tmp_path, inherit)
    assert "SEQD_TEST_SECRET=s3cret" in job.out()
    job, _ = execute(tmp_path, clean, passthrough=["SEQD_TEST_SECRET"])
    env = dict(line.split("=", 1) for line in job.out())
    assert env.get("SEQD_TEST_SECRET") == "s3cret" and "PATH" not in env
    with pytest.raises(ConfigError, match=r"\[task_env\] passthrough"):
        arun(started({"env_passthrough": ["PATH"]}))


def test_huge_input_stays_out_of_the_environment(tmp_path: Path) -> None:
    big = "x" * 200_000
    source = make_source(
        tmp_path,
        command='echo "${#SEQD_INPUT_BIG}:${SEQD_INPUT_SMALL}"; wc -c < "$SEQD_INPUT_FILE"',
        shell=True,
    )
    job, out = execute(tmp_path, source, {"big": big, "small": "s"})
    assert out == {"exit_code": 0}
    assert job.out()[0] == "0:s"
    assert int(job.out()[1]) > 200_000
    assert any(s == "system" and "SEQD_INPUT_BIG" in t for s, t in job.lines)


def test_cwd_inside_the_task_folder(tmp_path: Path) -> None:
    source = make_source(tmp_path, command=["pwd"], cwd="sub")
    (Path(source.dir) / "sub").mkdir()
    job, _ = execute(tmp_path, source)
    assert job.out() == [os.path.realpath(os.path.join(source.dir, "sub"))]
    escaping = make_source(tmp_path, command=["pwd"], cwd="..")
    job, err = execute(tmp_path, escaping)
    assert isinstance(err, TaskFailed) and err.type == "validation" and job.pids == []


def test_nonzero_exit(tmp_path: Path) -> None:
    source = make_source(tmp_path, command="echo bye; exit 3", shell=True)
    job, err = execute(tmp_path, source)
    assert isinstance(err, TaskFailed)
    assert (err.type, err.message, err.details) == (
        "exit_code",
        "command exited with status 3",
        {"exit_code": 3},
    )
    assert job.out() == ["bye"] and job.pids[-1] is None


def test_killed_by_signal(tmp_path: Path) -> None:
    source = make_source(tmp_path, command="kill -9 $$", shell=True)
    _, err = execute(tmp_path, source)
    assert isinstance(err, TaskFailed)
    assert err.message == "command was killed by SIGKILL"
    assert err.details == {"exit_code": -9, "signal": "SIGKILL"}


def test_command_not_found_and_not_executable(tmp_path: Path) -> None:
    _, err = execute(tmp_path, make_source(tmp_path, command=["no-such-command-seqd"]))
    assert isinstance(err, TaskFailed) and err.type == "spawn_failed"
    assert "no-such-command-seqd" in err.message
    source = make_source(tmp_path, command=["./script.sh"])
    (Path(source.dir) / "script.sh").write_text("#!/bin/sh\necho hi\n")
    _, err = execute(tmp_path, source)
    assert isinstance(err, TaskFailed) and err.type == "spawn_failed"
    assert "denied" in err.message.lower()


def test_stdout_and_stderr_are_separate_lines(tmp_path: Path) -> None:
    source = make_source(
        tmp_path,
        command="echo out1; echo err1 >&2; echo out2; printf 'tail-no-newline'; "
        "printf '\\377x\\n' >&2",
        shell=True,
    )
    job, _ = execute(tmp_path, source)
    assert job.out("stdout") == ["out1", "out2", "tail-no-newline"]
    assert job.out("stderr") == ["err1", "\ufffdx"]


def test_long_lines_are_split(tmp_path: Path) -> None:
    source = make_source(tmp_path, command="head -c 150000 /dev/zero | tr '\\0' a", shell=True)
    job, _ = execute(tmp_path, source)
    assert [len(line) for line in job.out()] == [65536, 65536, 150000 - 2 * 65536]


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_lines_stream_while_the_command_runs(tmp_path: Path, loop: str) -> None:
    go = tmp_path / "go"
    # The command only goes on once the test has seen its first line: without
    # streaming it would hang and the test would time out.
    source = make_source(
        tmp_path,
        command=f"echo first; while [ ! -e {go} ]; do sleep 0.05; done; echo second",
        shell=True,
    )
    seen_alive: list[bool] = []

    def on_line(job: FakeJob, stream: str, text: str) -> None:
        pid = job.pids[0]
        assert pid is not None
        seen_alive.append(bool(live_members(pid)))
        if text == "first":
            go.touch()

    job, out = execute(tmp_path, source, on_line=on_line, loop=loop)
    assert out == {"exit_code": 0}
    assert job.out() == ["first", "second"]
    assert seen_alive[0] is True


def test_leftover_processes_are_killed_after_exit(tmp_path: Path) -> None:
    source = make_source(tmp_path, command="sleep 100 & echo $!", shell=True)
    job, out = execute(tmp_path, source)
    assert out == {"exit_code": 0}
    pgid = job.pids[0]
    assert pgid is not None and group_gone(pgid)


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_cancel_kills_the_whole_group(tmp_path: Path, loop: str) -> None:
    source = make_source(tmp_path, command="sleep 100 & echo started; sleep 100", shell=True)
    job = make_job(tmp_path, source)

    async def main() -> None:
        tt = await started()
        task = asyncio.create_task(tt.execute(job))
        await until(lambda: "started" in job.out())
        assert tt.stats() == {"running": 1}
        pgid = job.pids[0]
        assert pgid is not None and len(live_members(pgid)) == 3
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert job.pids[-1] is None and tt.stats() == {"running": 0}
        assert group_gone(pgid)
        await tt.stop(1)

    arun(main(), loop=loop)


def test_timeout_escalates_to_sigkill_after_grace(tmp_path: Path) -> None:
    source = make_source(
        tmp_path, command="trap '' TERM; echo ready; sleep 100", shell=True, kill_grace_s=0.5
    )
    job = make_job(tmp_path, source)
    ready_at: list[float] = []

    async def main() -> float:
        tt = await started({"kill_grace_s": 60})
        loop = asyncio.get_running_loop()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(None) as deadline:

                def on_line(j: FakeJob, s: str, t: str) -> None:
                    ready_at.append(time.monotonic())
                    deadline.reschedule(loop.time() + 0.05)

                job.on_line = on_line
                await tt.execute(job)
        ended = time.monotonic()
        pgid = job.pids[0]
        assert pgid is not None and group_gone(pgid)
        assert job.pids[-1] is None and job.resources is not None
        await tt.stop(1)
        return ended

    ended = arun(main())
    # The option's grace (0.5 s) was honoured, and it beat the type's (60 s).
    assert ended - ready_at[0] >= 0.5


def test_cooperative_command_ends_on_sigterm(tmp_path: Path) -> None:
    source = make_source(
        tmp_path,
        command="trap 'echo got-term; exit 0' TERM; echo ready; sleep 100 & wait",
        shell=True,
    )
    job = make_job(tmp_path, source)

    async def main() -> float:
        tt = await started({"kill_grace_s": 30})
        task = asyncio.create_task(tt.execute(job))
        await until(lambda: "ready" in job.out())
        t0 = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await tt.stop(1)
        return time.monotonic() - t0

    elapsed = arun(main())
    assert job.out() == ["ready", "got-term"]  # drained after the exit
    assert elapsed < 25  # did not sit out the 30 s grace


def test_huge_output_with_small_cap_costs_little_memory_and_disk(tmp_path: Path) -> None:
    source = make_source(
        tmp_path,
        command="yes 0123456789012345678901234567890123456789 | head -c 200000000",
        shell=True,
    )
    me = psutil.Process()

    async def main() -> tuple[int, int, FakeJob]:
        tt = await started()
        warm_src = make_source(tmp_path, name="warm", command="seq 100000", shell=True)
        warm = make_job(tmp_path, warm_src, cap_bytes=64 * 1024)
        await tt.execute(warm)
        gc.collect()
        base = me.memory_info().rss
        peak = base
        job = make_job(tmp_path, source, cap_bytes=64 * 1024)
        task = asyncio.create_task(tt.execute(job))
        while not task.done():
            peak = max(peak, me.memory_info().rss)
            await asyncio.sleep(0.005)
        assert await task == {"exit_code": 0}
        await tt.stop(1)
        return base, peak, job

    base, peak, job = arun(main(), timeout=120)
    growth = peak - base
    assert growth < 20 * 1024 * 1024, f"RSS grew by {growth / 1e6:.1f} MB"
    assert job.full and job.logged_bytes <= 64 * 1024
    # Output goes through a pipe: nothing of it is kept on disk, and the work dir
    # (input only) is gone once the command ended.
    assert not os.path.exists(job.work_dir)


def test_second_cancel_during_cleanup_still_ends_the_group(tmp_path: Path) -> None:
    source = make_source(
        tmp_path, command="trap '' TERM; echo ready; sleep 100", shell=True, kill_grace_s=3
    )
    job = make_job(tmp_path, source)

    async def main() -> None:
        tt = await started()
        task = asyncio.create_task(tt.execute(job))
        await until(lambda: "ready" in job.out())
        pgid = job.pids[0]
        assert pgid is not None
        task.cancel()
        await asyncio.sleep(0.1)  # inside the grace period now
        assert not task.done()
        task.cancel()  # e.g. a timeout, then a shutdown
        with pytest.raises(asyncio.CancelledError):
            await task
        assert job.pids[-1] is None
        assert group_gone(pgid)
        await tt.stop(1)

    arun(main())


def test_inputs_cannot_override_reserved_variables(tmp_path: Path) -> None:
    source = make_source(tmp_path, command='echo "$SEQD_INPUT_FILE $SEQD_RUN_ID"', shell=True)
    job, out = execute(tmp_path, source, {"file": "/etc/hostname"})
    assert out == {"exit_code": 0}
    [line] = job.out()
    assert "/etc/hostname" not in line and line.endswith(job.run.id)
