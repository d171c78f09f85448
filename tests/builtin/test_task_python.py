"""The python task type against real worker processes.

The engine is not part of this module, so runs go through ``FakeJob``, a small test
double of ``seqd.plugins.tasktype.Job`` that collects log lines.
"""

from __future__ import annotations

import asyncio
import os
import signal
import textwrap
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest
import uvloop

from seqd.builtin.tasks.python.tasktype import PythonOptions, PythonTaskType
from seqd.config.settings import Config, ConfigError
from seqd.errors import NotRunnable, TaskFailed
from seqd.model.runs import Resources, Run
from seqd.plugins.tasktype import Services, TaskSource, TaskType

pytestmark = pytest.mark.timeout(60)


@dataclass
class FakeJob:
    run: Run
    task: TaskSource
    input: dict[str, Any]
    work_dir: str
    lines: list[tuple[str, str]] = field(default_factory=list)
    resources: Resources | None = None
    log_full: bool = False

    @property
    def work_path(self) -> str:
        return self.work_dir

    def log(self, stream: str, text: str) -> None:
        self.lines.append((stream, text))

    async def set_pid(self, pid: int | None) -> None:
        pass

    def set_resources(self, resources: Resources) -> None:
        self.resources = resources

    def texts(self, stream: str | None = None) -> list[str]:
        return [t for s, t in self.lines if stream is None or s == stream]


class Env:
    """A started task type plus helpers to make tasks and jobs under ``tmp_path``."""

    def __init__(self, tmp: Path, tt: PythonTaskType) -> None:
        self.tmp = tmp
        self.tt = tt
        self.count = 0

    def task(
        self, name: str, code: str, config: dict[str, Any] | None = None, entry: str = "run"
    ) -> TaskSource:
        folder = self.tmp / "tasks" / name
        folder.mkdir(parents=True, exist_ok=True)
        text = textwrap.dedent(code)
        (folder / "code.py").write_text(text)
        return TaskSource(
            name=name,
            dir=str(folder),
            version=str(hash(text)),
            type="python",
            config={"type": "python", **(config or {})},
            options=PythonOptions(entry=entry),
            files={"code.py": text},
        )

    def job(self, source: TaskSource, data: dict[str, Any] | None = None) -> FakeJob:
        self.count += 1
        work = self.tmp / "work" / str(self.count)
        work.mkdir(parents=True)
        run = Run(
            id=f"run-{self.count}",
            task=source.name,
            status="running",
            created_at="2024-01-01T00:00:00.000000Z",
            attempt=2,
        )
        return FakeJob(run=run, task=source, input=data or {}, work_dir=str(work))

    async def execute(self, source: TaskSource, data: dict[str, Any] | None = None) -> Any:
        job = self.job(source, data)
        return await self.tt.execute(job)

    async def fails(self, source: TaskSource, data: dict[str, Any] | None = None) -> TaskFailed:
        with pytest.raises(TaskFailed) as info:
            await self.execute(source, data)
        return info.value


def run_with(
    tmp_path: Path,
    body: Callable[[Env], Awaitable[None]],
    workers: int = 4,
    **options: Any,
) -> None:
    async def main() -> None:
        tt = PythonTaskType()
        config = Config(workers=workers, task_types={"python": {"kill_grace_s": 3, **options}})
        await tt.start(Services(config=config, state_dir=str(tmp_path), node="test"))
        try:
            await body(Env(tmp_path, tt))
        finally:
            await tt.stop(5)
        assert tt.stats()["workers"] == 0

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


HELLO = """
    import os

    def run(ctx, name: str, times: int = 1):
        print("printing for", name)
        ctx.log("logging", times)
        return {
            "greeting": " ".join([f"hello {name}"] * times),
            "cwd": os.getcwd(),
            "ctx": [ctx.run_id, ctx.task, ctx.attempt, ctx.input, ctx.work_dir, ctx.task_dir],
            "pid": os.getpid(),
        }
"""


def test_registered_type_satisfies_the_protocol() -> None:
    tt = PythonTaskType()
    assert isinstance(tt, TaskType)
    assert tt.name == "python"
    assert tt.defining_files == ("code.py",)
    assert tt.options_type is PythonOptions
    assert tt.stats()["workers"] == 0


def test_hello_world_with_inputs(tmp_path: Path) -> None:
    async def body(env: Env) -> None:
        src = env.task("hello", HELLO)
        job = env.job(src, {"name": "ada", "times": 2})
        out = await env.tt.execute(job)
        assert out["greeting"] == "hello ada hello ada"
        assert out["cwd"] == src.dir
        assert out["ctx"] == [
            job.run.id,
            "hello",
            2,
            {"name": "ada", "times": 2},
            job.work_dir,
            src.dir,
        ]
        assert out["pid"] != os.getpid()
        assert job.lines == [("stdout", "printing for ada"), ("log", "logging 2")]
        assert job.resources is not None
        assert job.resources.cpu_s is not None and job.resources.cpu_s >= 0
        assert job.resources.peak_rss_bytes is not None
        assert job.resources.peak_rss_bytes > 1024 * 1024

    run_with(tmp_path, body)


def test_signature_schema_types_defaults_required(tmp_path: Path) -> None:
    code = """
        import datetime

        def run(
            ctx,
            name: str,
            when: datetime.datetime,
            count: int = 3,
            tags: list[str] = ["a"],
            anything=None,
        ):
            return {
                "when": when.isoformat(),
                "year": when.year,
                "count": count * 2,
                "tags": tags,
                "anything": anything,
            }
    """

    async def body(env: Env) -> None:
        src = env.task("sig", code)
        schema = await env.tt.input_schema(src)
        assert schema is not None
        assert schema["type"] == "object"
        assert schema["required"] == ["name", "when"]
        assert schema["additionalProperties"] is False
        props = schema["properties"]
        assert props["name"] == {"type": "string"}
        assert props["count"] == {"type": "integer", "default": 3}
        assert props["tags"]["type"] == "array"
        assert props["anything"] == {"default": None}
        # Cached per version: the same object content again, without a worker round trip.
        assert await env.tt.input_schema(src) == schema

        out = await env.execute(src, {"name": "x", "when": "2024-05-06T07:08:09Z"})
        assert out == {
            "when": "2024-05-06T07:08:09+00:00",
            "year": 2024,
            "count": 6,
            "tags": ["a"],
            "anything": None,
        }
        err = await env.fails(src, {"name": "x", "when": "2024-05-06T07:08:09Z", "count": "7"})
        assert err.type == "validation"
        assert "$.count" in err.message
        err = await env.fails(src, {"name": "x", "when": "2024-05-06T07:08:09Z", "bogus": 1})
        assert err.type == "validation"
        assert "bogus" in err.message
        err = await env.fails(src, {"when": "2024-05-06T07:08:09Z"})
        assert err.type == "validation"
        assert "name" in err.message

    run_with(tmp_path, body)


def test_signature_with_kwargs_allows_extra_keys(tmp_path: Path) -> None:
    code = """
        def run(ctx, n: int, **rest):
            return {"n": n, "rest": rest}
    """

    async def body(env: Env) -> None:
        src = env.task("kw", code)
        schema = await env.tt.input_schema(src)
        assert schema is not None
        assert "additionalProperties" not in schema
        assert await env.execute(src, {"n": 1, "x": [1]}) == {"n": 1, "rest": {"x": [1]}}

    run_with(tmp_path, body)


def test_schema_derivation_failures_are_not_runnable(tmp_path: Path) -> None:
    async def body(env: Env) -> None:
        broken = env.task("broken", "raise RuntimeError('at import')\ndef run(ctx): pass\n")
        with pytest.raises(NotRunnable, match="RuntimeError: at import"):
            await env.tt.input_schema(broken)
        # The failure is cached for this version too.
        with pytest.raises(NotRunnable, match="at import"):
            await env.tt.input_schema(broken)
        odd = env.task("odd", "class Thing: pass\ndef run(ctx, t: Thing): pass\n")
        with pytest.raises(NotRunnable, match="cannot derive"):
            await env.tt.input_schema(odd)
        # The pool is still fine afterwards.
        assert (await env.execute(env.task("ok", "def run(ctx):\n    return 1\n"))) == 1

    run_with(tmp_path, body)


def test_schema_derivation_that_hangs_or_kills_the_worker(tmp_path: Path) -> None:
    async def body(env: Env) -> None:
        hang = env.task("hang", "import time\ntime.sleep(1e9)\ndef run(ctx): pass\n")
        with pytest.raises(NotRunnable, match="did not load within"):
            await env.tt.input_schema(hang)
        die = env.task("die", "import os\nos._exit(4)\ndef run(ctx): pass\n")
        with pytest.raises(NotRunnable, match="exit code 4"):
            await env.tt.input_schema(die)
        assert await env.execute(env.task("ok", "def run(ctx):\n    return 'ok'\n")) == "ok"
        assert env.tt.stats()["workers"] <= 4

    run_with(tmp_path, body, schema_timeout_s=0.5)


def test_config_schema_passes_input_as_is(tmp_path: Path) -> None:
    code = """
        def run(ctx, when, n=0):
            return [type(when).__name__, when, n]
    """

    async def body(env: Env) -> None:
        src = env.task("cfg", code, config={"inputs": {"type": "object"}})
        assert await env.execute(src, {"when": "2024-01-01T00:00:00Z"}) == [
            "str",
            "2024-01-01T00:00:00Z",
            0,
        ]
        err = await env.fails(src, {"when": 1, "other": 2})
        assert err.type == "validation"
        assert "other" in err.message

    run_with(tmp_path, body)


def test_async_run(tmp_path: Path) -> None:
    code = """
        import asyncio

        async def run(ctx, n: int):
            await asyncio.sleep(0.01)
            results = await asyncio.gather(*(asyncio.sleep(0, result=i) for i in range(n)))
            ctx.log("gathered", len(results))
            return sum(results)
    """

    async def body(env: Env) -> None:
        src = env.task("aio", code)
        job = env.job(src, {"n": 5})
        assert await env.tt.execute(job) == 10
        assert job.lines == [("log", "gathered 5")]
        # A sync run after an async one in the same worker still works.
        assert await env.execute(env.task("sync", "def run(ctx):\n    return 'sync'\n")) == "sync"

    run_with(tmp_path, body, prestart=1, workers=1)


def test_print_and_log_order_and_partial_lines(tmp_path: Path) -> None:
    code = """
        import os, sys

        def run(ctx):
            print("one")
            ctx.log("two")
            print("three", file=sys.stderr)
            sys.stdout.write("fo")
            sys.stdout.flush()
            sys.stdout.write("ur\\nfive\\n")
            ctx.log("six\\nseven")
            sys.stdout.buffer.write("bytes é\\n".encode())
            os.write(2, b"c-level\\n")
            os.write(1, b"no newline at end")
            print("partial", end="")
            return None
    """

    async def body(env: Env) -> None:
        job = env.job(env.task("order", code))
        assert await env.tt.execute(job) is None
        channel = [(s, t) for s, t in job.lines if t not in ("c-level", "no newline at end")]
        assert channel == [
            ("stdout", "one"),
            ("log", "two"),
            ("stderr", "three"),
            ("stdout", "four"),
            ("stdout", "five"),
            ("log", "six"),
            ("log", "seven"),
            ("stdout", "bytes é"),
            ("stdout", "partial"),
        ]
        # fd-level writes come through the pipes, attributed to this run.
        assert ("stderr", "c-level") in job.lines
        assert ("stdout", "no newline at end") in job.lines

    run_with(tmp_path, body)


def test_exception_with_traceback(tmp_path: Path) -> None:
    code = """
        def helper(x):
            raise ValueError(f"bad value {x}")

        def run(ctx, x: int):
            return helper(x)
    """

    async def body(env: Env) -> None:
        src = env.task("boom", code)
        err = await env.fails(src, {"x": 4})
        assert err.type == "exception"
        assert err.message == "ValueError: bad value 4"
        assert err.details["exception"] == "builtins.ValueError"
        tb = err.details["traceback"]
        assert os.path.join(src.dir, "code.py") in tb
        assert 'raise ValueError(f"bad value {x}")' in tb
        assert "seqd/worker" not in tb
        # The worker survives an exception and serves the next run.
        assert await env.execute(env.task("ok", "def run(ctx):\n    return 2\n")) == 2

    run_with(tmp_path, body)


def test_traceback_shows_the_version_that_ran(tmp_path: Path) -> None:
    async def body(env: Env) -> None:
        src = env.task("ver", "def run(ctx):\n    raise KeyError('snap')  # version one\n")
        Path(src.dir, "code.py").write_text("def run(ctx):\n    pass  # changed on disk\n")
        err = await env.fails(src)
        assert "# version one" in err.details["traceback"]
        assert err.details["exception"] == "builtins.KeyError"

    run_with(tmp_path, body)


def test_non_json_output(tmp_path: Path) -> None:
    async def body(env: Env) -> None:
        err = await env.fails(env.task("obj", "def run(ctx):\n    return {'x': object()}\n"))
        assert err.type == "invalid_output"
        assert err.message.startswith("output is not JSON-serialisable: dict")

    run_with(tmp_path, body)


def test_output_over_the_limit(tmp_path: Path) -> None:
    async def body(env: Env) -> None:
        err = await env.fails(env.task("big", "def run(ctx):\n    return 'x' * 2_000_000\n"))
        assert err.type == "invalid_output"
        assert "limit" in err.message

    run_with(tmp_path, body)


def test_os_exit_and_segfault_crash_the_worker_not_the_pool(tmp_path: Path) -> None:
    pid_code = "import os\ndef run(ctx):\n    return os.getpid()\n"

    async def body(env: Env) -> None:
        pid_src = env.task("pid", pid_code)
        first = await env.execute(pid_src)

        err = await env.fails(env.task("exit3", "import os\ndef run(ctx):\n    os._exit(3)\n"))
        assert err.type == "crashed"
        assert err.details["exit_code"] == 3
        assert err.details["signal"] is None
        assert "exit code 3" in err.message

        segv = "import ctypes\ndef run(ctx):\n    print('before')\n    ctypes.string_at(0)\n"
        job = env.job(env.task("segv", segv))
        with pytest.raises(TaskFailed) as info:
            await env.tt.execute(job)
        assert info.value.type == "crashed"
        assert info.value.details["signal"] == "SIGSEGV"
        assert ("stdout", "before") in job.lines
        assert any("Fatal Python error" in t for t in job.texts("stderr"))

        err = await env.fails(env.task("sysexit", "import sys\ndef run(ctx):\n    sys.exit(5)\n"))
        assert err.type == "crashed"
        assert err.details["exit_code"] == 5

        again = await env.execute(pid_src)
        assert again != first
        assert gone(first)  # the crashed worker was reaped
        stats = env.tt.stats()
        assert stats["crashed"] == 3

    run_with(tmp_path, body, workers=1)


async def _cancel_after_start(env: Env, job: FakeJob, marker: str) -> float:
    """Start ``job``, wait for ``marker`` in its log, cancel it; the time cancel took."""
    task = asyncio.ensure_future(env.tt.execute(job))
    deadline = time.monotonic() + 20
    while not any(t.startswith(marker) for t in job.texts()):
        assert not task.done(), task
        assert time.monotonic() < deadline, job.lines
        await asyncio.sleep(0.02)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return time.monotonic() - started


def test_cancel_runs_finally_blocks(tmp_path: Path) -> None:
    code = """
        import os, time

        def run(ctx, out: str):
            try:
                print("started", flush=True)
                time.sleep(1e9)
            finally:
                with open(out, "w") as fh:
                    fh.write(f"cleaned up {os.getpid()}")
                print("finally ran")
    """

    async def body(env: Env) -> None:
        out = env.tmp / "finally.txt"
        job = env.job(env.task("sleepy", code), {"out": str(out)})
        await _cancel_after_start(env, job, "started")
        text = out.read_text()
        assert text.startswith("cleaned up ")
        assert ("stdout", "finally ran") in job.lines
        pid = int(text.split()[-1])
        assert gone(pid)
        assert env.tt.stats()["killed"] == 1

    run_with(tmp_path, body)


def test_cancel_while_printing_keeps_the_channel_intact(tmp_path: Path) -> None:
    code = """
        def run(ctx):
            try:
                while True:
                    print("spam " * 20)
                    ctx.log("more spam")
            finally:
                ctx.log("the end")
    """

    async def body(env: Env) -> None:
        for _ in range(3):
            job = env.job(env.task("spam", code))
            await _cancel_after_start(env, job, "more spam")
            # Frames stayed whole: every line is intact and the finally block's arrived
            # (a print cut between its text and newline is flushed after it).
            end = job.lines.index(("log", "the end"))
            assert all(t in ("spam " * 20, "more spam") for _, t in job.lines[:end])
            assert all(line == ("stdout", "spam " * 20) for line in job.lines[end + 1 :])
        assert env.tt.stats()["killed"] == 3

    run_with(tmp_path, body)


def test_cancel_async_runs_finally_blocks(tmp_path: Path) -> None:
    code = """
        import asyncio

        async def run(ctx, out: str):
            try:
                ctx.log("started")
                await asyncio.sleep(1e6)
            finally:
                with open(out, "w") as fh:
                    fh.write("async cleanup")
    """

    async def body(env: Env) -> None:
        out = env.tmp / "async.txt"
        job = env.job(env.task("asleep", code), {"out": str(out)})
        await _cancel_after_start(env, job, "started")
        assert out.read_text() == "async cleanup"

    run_with(tmp_path, body)


def test_a_run_cannot_spoil_the_worker_for_the_next(tmp_path: Path) -> None:
    spoil = """
        import io, os, signal, sys

        def run(ctx):
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            sys.stdout = io.StringIO()
            os.chdir("/")
            return os.getpid()
    """
    victim = """
        import os, time

        def run(ctx, out: str):
            try:
                print("in", os.getcwd())
                time.sleep(1e9)
            finally:
                with open(out, "w") as fh:
                    fh.write(str(os.getpid()))
    """

    async def body(env: Env) -> None:
        pid = await env.execute(env.task("spoil", spoil))
        src = env.task("victim", victim)
        out = env.tmp / "victim.txt"
        job = env.job(src, {"out": str(out)})
        await _cancel_after_start(env, job, "in ")
        assert job.texts("stdout")[0] == f"in {src.dir}"
        assert out.read_text() == str(pid)  # same worker, and its finally ran

    run_with(tmp_path, body, workers=1)


def test_cancel_kills_a_task_that_ignores_sigterm(tmp_path: Path) -> None:
    code = """
        import os, signal

        def run(ctx):
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            ctx.log("spinning", os.getpid())
            while True:
                pass
    """

    async def body(env: Env) -> None:
        job = env.job(env.task("spin", code))
        took = await _cancel_after_start(env, job, "spinning")
        assert took >= 1.0  # it waited for the grace period, then killed
        pid = int(next(t for t in job.texts("log") if t.startswith("spinning")).split()[1])
        assert gone(pid)
        ok = await env.execute(env.task("after", "def run(ctx):\n    return 'fresh'\n"))
        assert ok == "fresh"

    run_with(tmp_path, body, kill_grace_s=1)


def test_cancel_reaches_the_tasks_subprocesses(tmp_path: Path) -> None:
    code = """
        import subprocess, sys

        def run(ctx):
            child = subprocess.Popen(["sleep", "1000"])
            ctx.log("child", child.pid)
            child.wait()
    """

    async def body(env: Env) -> None:
        job = env.job(env.task("kids", code))
        await _cancel_after_start(env, job, "child")
        await asyncio.sleep(0)
        child = int(next(t for t in job.texts("log") if t.startswith("child")).split()[1])
        deadline = time.monotonic() + 10
        while not gone(child):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)

    run_with(tmp_path, body)


def test_cancelled_worker_is_not_reused(tmp_path: Path) -> None:
    code = """
        import os, time

        def run(ctx, wait: bool = False):
            if wait:
                ctx.log("waiting")
                time.sleep(1e9)
            return os.getpid()
    """

    async def body(env: Env) -> None:
        src = env.task("reuse", code)
        first = await env.execute(src)
        assert await env.execute(src) == first  # warm reuse
        job = env.job(src, {"wait": True})
        await _cancel_after_start(env, job, "waiting")
        assert gone(first)
        assert await env.execute(src) != first

    run_with(tmp_path, body, workers=1, prestart=0)


def test_recycling_after_n_runs(tmp_path: Path) -> None:
    async def body(env: Env) -> None:
        src = env.task("pid", "import os\ndef run(ctx):\n    return os.getpid()\n")
        pids = [await env.execute(src) for _ in range(5)]
        assert pids[0] == pids[1]
        assert pids[2] == pids[3]
        assert pids[1] != pids[2] != pids[4]
        assert env.tt.stats()["recycled"] >= 2

    run_with(tmp_path, body, workers=1, max_runs_per_worker=2)


def test_recycling_above_rss_mark(tmp_path: Path) -> None:
    async def body(env: Env) -> None:
        src = env.task("pid", "import os\ndef run(ctx):\n    return os.getpid()\n")
        first = await env.execute(src)
        assert await env.execute(src) != first
        assert env.tt.stats()["recycled"] >= 1

    run_with(tmp_path, body, workers=1, max_worker_rss_mb=1)


def test_eight_concurrent_runs(tmp_path: Path) -> None:
    code = """
        import os, time

        def run(ctx, i: int):
            time.sleep(0.3)
            return [i, os.getpid()]
    """

    async def body(env: Env) -> None:
        src = env.task("par", code)
        results = await asyncio.gather(*(env.execute(src, {"i": i}) for i in range(8)))
        assert [r[0] for r in results] == list(range(8))
        assert len({r[1] for r in results}) == 8  # one worker per concurrent run
        stats = env.tt.stats()
        assert stats["busy"] == 0
        assert stats["idle"] <= 8

    run_with(tmp_path, body, workers=8)


def test_ctx_call_dispatches_through_the_handler_table(tmp_path: Path) -> None:
    code = """
        from seqd.runtime.worker.context import CallError

        def run(ctx):
            doubled = ctx.call("test.double", {"x": 21})
            try:
                ctx.call("test.nope")
            except CallError as exc:
                missing = exc.type
            try:
                ctx.call("test.refuse", None)
            except CallError as exc:
                refused = [exc.type, exc.message]
            return [doubled, missing, refused]
    """

    async def body(env: Env) -> None:
        seen: list[str] = []

        async def double(job: Any, args: Any) -> Any:
            seen.append(job.run.id)
            return args["x"] * 2

        async def refuse(job: Any, args: Any) -> Any:
            raise TaskFailed("not_allowed", "no, thanks")

        env.tt.handlers["test.double"] = double
        env.tt.handlers["test.refuse"] = refuse
        job = env.job(env.task("calls", code))
        assert await env.tt.execute(job) == [42, "unknown_op", ["not_allowed", "no, thanks"]]
        assert seen == [job.run.id]

    run_with(tmp_path, body)


def test_worker_that_cannot_start(tmp_path: Path) -> None:
    async def body(env: Env) -> None:
        err = await env.fails(env.task("x", "def run(ctx):\n    return 1\n"))
        assert err.type == "crashed"
        assert "failed to start" in err.message

    run_with(tmp_path, body, prestart=0, python="/bin/false")


def test_stop_ends_all_workers(tmp_path: Path) -> None:
    async def main() -> None:
        tt = PythonTaskType()
        config = Config(workers=2, task_types={"python": {"prestart": 2}})
        await tt.start(Services(config=config, state_dir=str(tmp_path), node="t"))
        env = Env(tmp_path, tt)
        pid = await env.execute(
            env.task("pid", "import os\ndef run(ctx):\n    return os.getpid()\n")
        )
        assert tt.stats()["workers"] == 2
        await tt.stop(5)
        assert tt.stats()["workers"] == 0
        assert gone(pid)

    asyncio.run(main())


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"max_runs_per_worker": 0}, "max_runs_per_worker"),
        ({"kill_grace_s": "soon"}, "kill_grace_s"),
        ({"bogus": 1}, "bogus"),
        ({"python": "/nonexistent/python3"}, "cannot start"),
        ({"python": "/bin/false"}, "failed to start"),
    ],
)
def test_bad_daemon_config_is_a_clear_error(
    tmp_path: Path, options: dict[str, Any], needle: str
) -> None:
    async def main() -> None:
        tt = PythonTaskType()
        config = Config(task_types={"python": options})
        with pytest.raises(ConfigError, match=needle) as info:
            await tt.start(Services(config=config, state_dir=str(tmp_path), node="t"))
        assert "[task_types.python]" in str(info.value)

    asyncio.run(main())


def _source(tmp_path: Path, code: str | None, entry: str = "run") -> TaskSource:
    files = {} if code is None else {"code.py": textwrap.dedent(code)}
    return TaskSource(
        name="t",
        dir=str(tmp_path),
        version="1",
        type="python",
        config={"type": "python"},
        options=msgspec.convert({"entry": entry}, PythonOptions),
        files=files,
    )


@pytest.mark.parametrize(
    ("code", "entry", "where", "needle"),
    [
        (None, "run", "code.py", "missing"),
        ("def run(ctx):\n    return (\n", "run", "code.py:", "syntax error"),
        ("def run(ctx):\n    x = 1\n    nonlocal x\n", "run", "code.py:", "syntax error"),
        ("def other(ctx):\n    pass\n", "run", "code.py", "no top-level function named 'run'"),
        ("if True:\n    def run(ctx):\n        pass\n", "run", "code.py", "no top-level"),
        ("def run():\n    pass\n", "run", "code.py:1", "ctx as its first parameter"),
        ("def run(ctx, a, /):\n    pass\n", "run", "code.py:1", "positional-only"),
        ("def run(ctx):\n    pass\n", "main", "code.py", "'main'"),
    ],
)
def test_check_reports_problems(
    tmp_path: Path, code: str | None, entry: str, where: str, needle: str
) -> None:
    problems = PythonTaskType().check(_source(tmp_path, code, entry))
    assert len(problems) == 1
    assert problems[0].where.startswith(where)
    assert needle in problems[0].message


@pytest.mark.parametrize(
    ("code", "entry"),
    [
        ("def run(ctx, **inputs):\n    pass\n", "run"),
        ("async def main(ctx, a: int = 1):\n    pass\n", "main"),
        ("import os\nos._exit(9)\ndef run(ctx):\n    pass\n", "run"),
    ],
)
def test_check_accepts_good_code_without_running_it(tmp_path: Path, code: str, entry: str) -> None:
    # The third case would kill this process if check() executed the module.
    assert PythonTaskType().check(_source(tmp_path, code, entry)) == []


def test_worker_sigterm_from_outside_is_a_crash(tmp_path: Path) -> None:
    code = """
        import os, time

        def run(ctx):
            ctx.log("pid", os.getpid())
            time.sleep(1e9)
    """

    async def body(env: Env) -> None:
        job = env.job(env.task("ext", code))
        task = asyncio.ensure_future(env.tt.execute(job))
        deadline = time.monotonic() + 20
        while not job.texts("log"):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        os.kill(int(job.texts("log")[0].split()[1]), signal.SIGTERM)
        with pytest.raises(TaskFailed) as info:
            await task
        assert info.value.type == "crashed"
        assert info.value.details["signal"] == "SIGTERM"

    run_with(tmp_path, body)
