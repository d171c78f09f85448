"""The built-in ``shell.exec`` tool: run a command, wait, return its exit status and
output.

The same process engine as the ``shell`` task type (``seqd.procs``): the command
starts through ``spawn_async`` in a new session, its stdout/stderr go straight to files
(never through daemon memory), and on a timeout or a cancelled call the whole process
group gets SIGTERM, then SIGKILL after the grace (``Process.terminate``), exactly as a
shell task's run is ended. An argv list runs without a shell; ``shell: true`` with a
string runs ``/bin/sh -c``, only when asked. The environment is the shell task type's
pass-through list (``[task_types.shell] env_passthrough``) plus ``env``.

Over RPC it is admin-only by default (``tools.admin_only``): it runs commands as the
daemon's user.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Callable
from typing import Annotated

import msgspec
from msgspec import Meta

from seqd import hookimpl
from seqd.builtin.task_shell import DEFAULT_PASSTHROUGH, _finish_despite_cancel
from seqd.confine import parent_fd, resolve, root_for
from seqd.errors import ToolFailed, ValidationFailed
from seqd.ids import IdGenerator
from seqd.procs import ExitStatus, SpawnError, spawn_async
from seqd.tools import Tool, ToolContext

_ids = IdGenerator()


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


def _prepare(out_dir: str, stdin: str | None) -> str | None:
    os.makedirs(out_dir, mode=0o700, exist_ok=True)
    if stdin is None:
        return None
    path = os.path.join(out_dir, "stdin")
    with open(path, "w", encoding="utf-8", errors="surrogatepass") as fh:
        fh.write(stdin)
    return path


def _collect(out_dir: str, limit: int) -> tuple[str, bool, str, bool]:
    results: list[str | bool] = []
    for stream in ("stdout", "stderr"):
        path = os.path.join(out_dir, stream)
        try:
            with open(path, "rb") as fh:
                data = fh.read(limit + 1)
        except FileNotFoundError:
            data = b""
        results.extend([data[:limit].decode("utf-8", "replace"), len(data) > limit])
    shutil.rmtree(out_dir, ignore_errors=True)
    return results[0], results[1], results[2], results[3]  # type: ignore[return-value]


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
        shell_cfg = ctx.config.task_types.get("shell", {})
        passthrough = shell_cfg.get("env_passthrough", DEFAULT_PASSTHROUGH)
        env = {k: os.environ[k] for k in passthrough if k in os.environ}
        env.update(params.env)
        if ctx.caller.run_id is not None:
            env["SEQD_RUN_ID"] = ctx.caller.run_id
        out_dir = os.path.join(ctx.state_dir, "work", f"tool-{_ids.new()}")
        stdin = await asyncio.to_thread(_prepare, out_dir, params.stdin)
        limit = min(params.max_output_bytes or cfg.shell_max_output_bytes,
                    cfg.shell_max_output_bytes)  # fmt: skip
        started = time.monotonic()
        timed_out = False
        try:
            try:
                proc = await spawn_async(
                    argv,
                    env=env,
                    cwd=cwd,
                    stdin=stdin,
                    stdout=os.path.join(out_dir, "stdout"),
                    stderr=os.path.join(out_dir, "stderr"),
                )
            except SpawnError as exc:
                raise ToolFailed(
                    f"shell.exec: {exc.message}",
                    {"reason": "spawn_failed", "errno": exc.errno, "program": argv[0]},
                ) from None
            except ValueError as exc:
                raise ValidationFailed(f"shell.exec: {exc}", {"field": "params.argv"}) from None
            try:
                status: ExitStatus = await asyncio.wait_for(proc.wait(), params.timeout_s)
            except TimeoutError:
                timed_out = True
                status = await _finish_despite_cancel(proc.terminate(params.kill_grace_s))
            except BaseException:
                await _finish_despite_cancel(proc.terminate(params.kill_grace_s))
                raise
        finally:
            out, out_cut, err, err_cut = await asyncio.to_thread(_collect, out_dir, limit)
        return ExecResult(
            exit_code=status.returncode,
            signal=status.signal_name,
            timed_out=timed_out,
            stdout=out,
            stderr=err,
            stdout_truncated=out_cut,
            stderr_truncated=err_cut,
            duration_s=round(time.monotonic() - started, 3),
        )


@hookimpl
def seqd_register_tools(register: Callable[[Tool], None]) -> None:
    register(ShellExec())
