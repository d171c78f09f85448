"""The built-in ``shell.exec`` tool: run a command, wait, return its exit status and
output.

The same process engine as the ``shell`` task type: the command is started by that
task type's spawner process (``seqd.runtime.spawner``, ``run_command``) in a new session, its
output comes back over pipes (kept up to ``max_output_bytes`` per stream, line by
line, each line ending with a newline; the rest is read and dropped), and on a timeout
or a cancelled call the whole process group gets SIGTERM, then SIGKILL after the grace,
exactly as a shell task's run is ended. An argv
list runs without a shell; ``shell: true`` with a string runs ``/bin/sh -c``, only when
asked. ``stdin`` is written to a private file the command reads as its stdin. The
environment is the daemon's allowlist (``[task_env] passthrough``) plus ``env``.

It needs the role ``admin`` by default (``tools.roles``), over RPC and from runs: it
runs commands as the daemon's user.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from seqd import hookimpl
from seqd.errors import ToolFailed, ValidationFailed
from seqd.model.ids import IdGenerator
from seqd.model.runs import LogStream
from seqd.plugins.tools import Tool, ToolContext
from seqd.runtime.confine import parent_fd, resolve, root_for
from seqd.runtime.procs import ExitStatus, SpawnerCrashed, SpawnError
from seqd.runtime.spawner.messages import CommandSpec
from seqd.runtime.spawner.run import run_command
from seqd.runtime.taskenv import passthrough

_ids = IdGenerator()
STDIN_FILE = "stdin"


class ExecParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    argv: Annotated[list[str], Meta(min_length=1)] | None = None
    """The program and its arguments; no shell is involved."""
    command: Annotated[str, Meta(min_length=1)] | None = None
    """A shell command line, run by ``/bin/sh -c``; needs ``shell: true``."""
    shell: bool = False
    env: dict[str, str] = {}
    cwd: Annotated[str, Meta(max_length=4096)] = "."
    """A folder inside ``scope`` (default: the scope's root)."""
    scope: Annotated[str, Meta(pattern="^(run|task|global)$")] | None = None
    stdin: str | None = None
    timeout_s: Annotated[float, Meta(gt=0)] = 60.0
    kill_grace_s: Annotated[float, Meta(ge=0)] = 2.0
    max_output_bytes: Annotated[int, Meta(ge=1)] | None = None


class ExecResult(msgspec.Struct, kw_only=True):
    exit_code: int | None
    """The exit status; negative: killed by that signal."""
    signal: str | None = None
    timed_out: bool
    stdout: str
    stderr: str
    stdout_truncated: bool
    stderr_truncated: bool
    duration_s: float


def _argv(params: ExecParams) -> list[str]:
    if params.shell:
        if params.command is None or params.argv is not None:
            raise ValidationFailed(
                'shell.exec: with "shell": true give "command" (a string), not "argv"',
                {"field": "params.command"},
            )
        return ["/bin/sh", "-c", params.command]
    if params.argv is None or params.command is not None:
        raise ValidationFailed(
            'shell.exec: give "argv" (a list); a "command" string needs "shell": true',
            {"field": "params.argv"},
        )
    if not params.argv[0]:
        raise ValidationFailed(
            "shell.exec: the program must not be empty", {"field": "params.argv"}
        )
    return list(params.argv)


def _cwd(root: str, path: str) -> str:
    """The real folder to run in, confined to the scope (on a thread)."""
    real_root, parts = resolve(root, path, "shell.exec")
    with parent_fd(real_root, [*parts, "."], "shell.exec", path):
        pass  # every component is a real folder, no symlink on the way
    return os.path.join(real_root, *parts)


class Captured:
    """The command's output as the tool returns it: each stream's text up to ``limit``
    bytes (lines joined back with newlines), whether more was dropped."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.text: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self.size = {"stdout": 0, "stderr": 0}
        self.cut = {"stdout": False, "stderr": False}
        self.partial = {"stdout": False, "stderr": False}

    def log(self, stream: LogStream, text: str) -> None:
        if stream not in self.text or self.cut[stream]:
            return
        size = len(text.encode("utf-8", "replace")) + 1
        if self.size[stream] + size > self.limit:
            room = self.limit - self.size[stream]
            if room > 0:
                self.text[stream].append(
                    text.encode("utf-8", "replace")[:room].decode("utf-8", "ignore")
                )
            self.cut[stream] = True
            return
        self.size[stream] += size
        self.text[stream].append(text)

    @property
    def log_full(self) -> bool:
        return all(self.cut.values())

    async def wait_logged(self, backlog_bytes: int = 1 << 20) -> None:
        return None

    def output(self, stream: str) -> str:
        """Every line ends with a newline (a last line without one gets one), except
        the piece of a line cut at the limit."""
        lines = self.text[stream]
        if lines and self.partial[stream]:
            return "".join(line + "\n" for line in lines[:-1]) + lines[-1]
        return "".join(line + "\n" for line in lines)


class ShellExec:
    name = "shell.exec"
    description = "Run a command (argv; a shell only when asked) with a timeout; exit code, output."
    params_schema = ExecParams
    result_schema = ExecResult

    async def call(self, params: ExecParams, ctx: ToolContext) -> ExecResult:
        cfg = ctx.config.tools
        argv = _argv(params)
        if params.timeout_s > cfg.shell_max_timeout_s:
            raise ValidationFailed(
                f"shell.exec: timeout_s is above tools.shell_max_timeout_s "
                f"({cfg.shell_max_timeout_s})",
                {"field": "params.timeout_s"},
            )
        for key in params.env:
            if not key or "=" in key or "\0" in key:
                raise ValidationFailed(
                    f"shell.exec: bad environment variable name {key!r}", {"field": "params.env"}
                )
        scope = params.scope or ctx.default_scope
        root = root_for(ctx.roots, scope, self.name)
        cwd = await asyncio.to_thread(_cwd, root, params.cwd)
        env = passthrough(ctx.config.task_env.passthrough)
        env.update(params.env)
        if ctx.caller.run_id is not None:
            env["SEQD_RUN_ID"] = ctx.caller.run_id
        shell = ctx.task_type("shell")
        spawner: Any = getattr(shell, "spawner", None)
        if spawner is None:
            raise ToolFailed(
                "shell.exec: the shell task type is not available",
                {"tool": self.name, "reason": "unavailable"},
            )
        limit = min(params.max_output_bytes or cfg.shell_max_output_bytes,
                    cfg.shell_max_output_bytes)  # fmt: skip
        work_dir = os.path.join(ctx.state_dir, "work", f"tool-{_ids.new()}")
        spec = CommandSpec(
            argv=argv,
            env=env,
            cwd=cwd,
            work_dir=work_dir,
            input_file=STDIN_FILE,
            input=(params.stdin or "").encode("utf-8", "surrogatepass"),
            stdin_from_input=params.stdin is not None,
        )
        captured = Captured(limit)
        ended: list[ExitStatus] = []

        async def on_end(_cmd: Any, status: ExitStatus) -> None:
            ended.append(status)

        started = time.monotonic()
        timed_out = False
        try:
            run = asyncio.ensure_future(
                run_command(spawner, spec, captured, grace_s=params.kill_grace_s, on_end=on_end)
            )
            try:
                status: ExitStatus = await asyncio.wait_for(asyncio.shield(run), params.timeout_s)
            except TimeoutError:
                timed_out = True
                run.cancel()  # run_command ends the group: SIGTERM, SIGKILL after the grace
                await asyncio.gather(run, return_exceptions=True)
                if not ended:
                    raise ToolFailed(
                        "shell.exec: the command timed out before it started",
                        {"tool": self.name, "reason": "timeout"},
                    ) from None
                status = ended[0]
            except asyncio.CancelledError:
                run.cancel()
                await asyncio.gather(run, return_exceptions=True)
                raise
        except SpawnError as exc:
            raise ToolFailed(
                f"shell.exec: {exc.message}",
                {"tool": self.name, "reason": "spawn_failed", "errno": exc.errno,
                 "program": argv[0]},
            ) from None  # fmt: skip
        except SpawnerCrashed as exc:
            raise ToolFailed(
                f"shell.exec: {exc.message}", {"tool": self.name, "reason": "crashed"}
            ) from None
        except ValueError as exc:
            raise ValidationFailed(f"shell.exec: {exc}", {"field": "params.argv"}) from None
        return ExecResult(
            exit_code=status.returncode,
            signal=status.signal_name,
            timed_out=timed_out,
            stdout=captured.output("stdout"),
            stderr=captured.output("stderr"),
            stdout_truncated=captured.cut["stdout"],
            stderr_truncated=captured.cut["stderr"],
            duration_s=round(time.monotonic() - started, 3),
        )


@hookimpl
def seqd_register_tools(register: Callable[[Tool], None]) -> None:
    register(ShellExec())
