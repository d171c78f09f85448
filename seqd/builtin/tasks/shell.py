"""The built-in ``shell`` task type: run a command in its own process group.

Commands are started, read and reaped by the spawner process (``seqd.runtime.spawner``): the
daemon sends what to run and gets lines, the exit status and the resource use back.
Output is paced by the run log (it waits in the command's pipe while storage catches
up, so it never piles up in the daemon) and, past the log cap, read and dropped.
Stdout lines ``::metric ...`` record task metrics (``metric_lines``). Inputs reach the
command through the environment (``$SEQD_INPUT_<NAME>``,
``$SEQD_INPUT``) and, for argv commands only, through ``{name}`` placeholders: a
``"shell": true`` string is never substituted into, since that would let an input
inject shell code.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from seqd import hookimpl
from seqd.builtin.tasks.metric_lines import MetricSink
from seqd.builtin.tasks.shellscripts import script_warnings
from seqd.builtin.tasks.stderr_tail import StderrTail
from seqd.config.secrets import SecretRef, Secrets
from seqd.config.settings import DEFAULT_PASSTHROUGH, ConfigError
from seqd.errors import TaskFailed
from seqd.model.runs import Resources
from seqd.model.tasks import Problem
from seqd.model.traces import format_traceparent, run_span_id, trace_of
from seqd.plugins.tasktype import Job, Services, TaskSource, TaskType
from seqd.runtime.procs import ExitStatus, SpawnerCrashed, SpawnError
from seqd.runtime.spawner.client import Spawner
from seqd.runtime.spawner.command import RunningCommand
from seqd.runtime.spawner.messages import CommandSpec
from seqd.runtime.spawner.run import run_command
from seqd.runtime.taskenv import env_problems, helper_env, passthrough, task_env

logger = logging.getLogger(__name__)

MAX_ENV_VALUE_BYTES = 100 * 1024
"""Linux refuses any single environment string over 128 KiB (``E2BIG``): larger input
values are left out of the environment; ``$SEQD_INPUT_FILE`` always has them."""

_PLACEHOLDER = re.compile(r"\$\{[^{}]*\}|\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
"""``{name}`` placeholders; ``{{``/``}}`` escape braces; ``${VAR}`` (shell parameter
syntax, common in ``sh -c`` scripts) is left alone."""
_ENV_NAME_CHARS = re.compile(r"[^A-Za-z0-9]")
INPUT_FILE = "input.json"
"""In the work dir: the run's input as JSON."""
SPARE_DIR = ".spare-shell"
"""Beside the runs' work dirs: emptied work dirs the spawner renames into place for
later runs (no run id starts with a dot)."""


class ShellOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A shell task's own ``config.json`` fields."""

    command: list[str] | str
    shell: bool = False
    env: dict[str, str | SecretRef] = {}
    """Added to ``[task_env] passthrough``; a value may be ``{"secret": "<name>"}``."""
    cwd: str | None = None
    """Relative to the task folder (the default); must stay inside it."""
    inherit_env: bool = False
    """The daemon's whole environment instead of the allowlist (its secrets included)."""
    kill_grace_s: Annotated[float, Meta(ge=0)] | None = None


class ShellTypeConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[task_types.shell]`` in the daemon config."""

    kill_grace_s: Annotated[float, Meta(ge=0)] = 5.0
    allow_cwd_outside: bool = False
    env_passthrough: list[str] | None = None
    """Moved to ``[task_env] passthrough`` (one list for every task type); refused here
    with a message saying so."""


# -- pure helpers ------------------------------------------------------------------


def scalar_text(value: Any) -> str | None:
    """How a scalar input is spelt in argv and the environment; None if not scalar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    return None


def input_env_name(name: str) -> str:
    return "SEQD_INPUT_" + _ENV_NAME_CHARS.sub("_", name).upper()


def placeholders(arg: str) -> list[str]:
    return [m.group(1) for m in _PLACEHOLDER.finditer(arg) if m.group(1)]


def substitute(arg: str, inputs: Mapping[str, Any]) -> str:
    """Replace ``{name}`` by the scalar input ``name``; ``{{``/``}}`` give braces;
    ``${VAR}`` stays as it is."""

    def repl(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            whole = match.group(0)
            return whole if whole.startswith("$") else whole[0]
        if name not in inputs:
            raise TaskFailed(
                "validation",
                f"command placeholder {{{name}}} has no input named {name!r}",
                {"field": name},
            )
        text = scalar_text(inputs[name])
        if text is None:
            raise TaskFailed(
                "validation",
                f"command placeholder {{{name}}}: input {name!r} is not a string, number "
                "or boolean",
                {"field": name},
            )
        return text

    return _PLACEHOLDER.sub(repl, arg)


def resolve_cwd(task_dir: str, cwd: str | None, allow_outside: bool) -> str:
    """The real directory to run in; ValueError says why it is not acceptable."""
    root = os.path.realpath(task_dir)
    if cwd is None:
        return root
    real = os.path.realpath(os.path.join(root, cwd))
    inside = real == root or real.startswith(root.rstrip(os.sep) + os.sep)
    if not inside and not allow_outside:
        raise ValueError(f"{cwd!r} leads outside the task folder (to {real})")
    if not os.path.isdir(real):
        raise ValueError(f"{cwd!r} is not a directory")
    return real


def _command_problems(opts: ShellOptions, config: Mapping[str, Any]) -> list[str]:
    cmd = opts.command
    if isinstance(cmd, str):
        if not opts.shell:
            return ['a string command needs "shell": true (or give an argv list)']
        if not cmd.strip():
            return ["must not be empty"]
        return ["must not contain NUL characters"] if "\0" in cmd else []
    if opts.shell:
        return ['with "shell": true the command must be one string']
    if not cmd:
        return ["must not be an empty list"]
    problems: list[str] = []
    if not cmd[0]:
        problems.append("the program (first item) must not be empty")
    if any("\0" in arg for arg in cmd):
        problems.append("must not contain NUL characters")
    schema = config.get("inputs")
    if isinstance(schema, dict) and schema.get("additionalProperties") is False:
        known = schema.get("properties") or {}
        for arg in cmd:
            for name in placeholders(arg):
                if name not in known:
                    problems.append(f"placeholder {{{name}}} names no declared input")
    return problems


# -- the task type -----------------------------------------------------------------


class ShellTaskType:
    name = "shell"
    options_type: type[msgspec.Struct] | None = ShellOptions
    defining_files: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.config = ShellTypeConfig()
        self._running = 0
        self._spawner = Spawner()
        self._cwds: dict[str, tuple[tuple[str | None, str | None, bool], str]] = {}
        """Per task: (version, cwd option, allow_outside) and the directory it resolved to."""
        self._passthrough: list[str] = list(DEFAULT_PASSTHROUGH)
        self._secrets = Secrets()

    # -- catalog side ----------------------------------------------------------------

    def check(self, source: TaskSource) -> list[Problem]:
        opts = source.options
        if not isinstance(opts, ShellOptions):
            return [Problem(where="config.json", message="shell options were not decoded")]
        problems = [
            Problem(where="config.json: command", message=m)
            for m in _command_problems(opts, source.config)
        ]
        problems.extend(env_problems(opts.env, self._secrets))
        try:
            resolve_cwd(source.dir, opts.cwd, self.config.allow_cwd_outside)
        except ValueError as exc:
            problems.append(Problem(where="config.json: cwd", message=str(exc)))
        return problems

    def warnings(self, source: TaskSource) -> list[Problem]:
        """Legal but risky: an input substituted into a ``sh -c`` script."""
        opts = source.options
        if not isinstance(opts, ShellOptions) or isinstance(opts.command, str):
            return []
        return script_warnings(opts.command, placeholders)

    async def input_schema(self, source: TaskSource) -> dict[str, Any] | None:
        return None

    # -- lifecycle -------------------------------------------------------------------

    async def start(self, services: Services) -> None:
        raw = services.config.task_types.get("shell", {})
        try:
            self.config = msgspec.convert(raw, ShellTypeConfig)
        except msgspec.ValidationError as exc:
            raise ConfigError(f"[task_types.shell]: {exc}") from None
        if self.config.env_passthrough is not None:
            raise ConfigError(
                "[task_types.shell] env_passthrough has moved to [task_env] passthrough "
                "(one list for shell and python tasks alike)"
            )
        self._passthrough = list(services.config.task_env.passthrough)
        self._secrets = services.secrets
        self._spawner = Spawner(env=helper_env(self._passthrough))
        await self._spawner.start()

    async def stop(self, grace_s: float) -> None:
        await self._spawner.close()

    def stats(self) -> dict[str, int]:
        return {"running": self._running}

    @property
    def spawner(self) -> Spawner:
        """The process engine of this task type, for others that run commands (tools):
        ``seqd.runtime.spawner.run.run_command(task_type.spawner, spec, sink, ...)``."""
        return self._spawner

    # -- running ---------------------------------------------------------------------

    async def _cwd(self, source: TaskSource, opts: ShellOptions) -> str:
        """``resolve_cwd`` — a stat per path component, so on a thread — once per task
        version (a version is the folder's content; the catalog reloads on changes)."""
        key = (source.version, opts.cwd, self.config.allow_cwd_outside)
        known = self._cwds.get(source.name)
        if known is not None and known[0] == key and source.version is not None:
            return known[1]
        cwd = await asyncio.to_thread(resolve_cwd, source.dir, opts.cwd, key[2])
        self._cwds[source.name] = (key, cwd)
        return cwd

    def _argv(self, opts: ShellOptions, inputs: Mapping[str, Any]) -> list[str]:
        problems = _command_problems(opts, {})
        if problems:
            raise TaskFailed("validation", f"command: {problems[0]}")
        if isinstance(opts.command, str):
            return ["/bin/sh", "-c", opts.command]  # never substituted: see module doc
        return [substitute(arg, inputs) for arg in opts.command]

    def _env(self, opts: ShellOptions, job: Job, work_dir: str) -> dict[str, str]:
        env = dict(os.environ) if opts.inherit_env else passthrough(self._passthrough)
        env.update(task_env(opts.env, self._secrets))
        reserved = {
            "SEQD_RUN_ID": job.run.id,
            "SEQD_TASK": job.task.name,
            "SEQD_TASK_DIR": os.path.abspath(job.task.dir),
            "SEQD_WORK_DIR": work_dir,
            "SEQD_INPUT_FILE": os.path.join(work_dir, INPUT_FILE),
            "SEQD_TRACE_ID": trace_of(job.run),
            "TRACEPARENT": format_traceparent(trace_of(job.run), run_span_id(job.run.id)),
        }
        values = {"SEQD_INPUT": msgspec.json.encode(job.input).decode()}
        for name, value in job.input.items():
            text = scalar_text(value)
            if text is not None:
                values[input_env_name(name)] = text
        for key, text in values.items():
            if len(text.encode("utf-8", "surrogatepass")) > MAX_ENV_VALUE_BYTES:
                job.log("system", f"${key} left unset: value too large; see $SEQD_INPUT_FILE")
            else:
                env[key] = text
        # Last, so neither the task's env nor an input named e.g. "file" (whose variable
        # would be SEQD_INPUT_FILE) can redirect what the daemon's own variables say.
        env.update(reserved)
        return env

    async def execute(self, job: Job) -> Any:
        opts = job.task.options
        if not isinstance(opts, ShellOptions):
            raise TaskFailed("validation", "shell options were not decoded")
        argv = self._argv(opts, job.input)
        try:
            cwd = await self._cwd(job.task, opts)
        except ValueError as exc:
            raise TaskFailed("validation", f"cwd: {exc}", {"field": "cwd"}) from None
        grace = opts.kill_grace_s if opts.kill_grace_s is not None else self.config.kill_grace_s
        work_dir = job.work_path  # the spawner creates it, writes the input, removes it
        spec = CommandSpec(
            argv=argv,
            env=self._env(opts, job, work_dir),
            cwd=cwd,
            work_dir=work_dir,
            input_file=INPUT_FILE,
            input=msgspec.json.encode(job.input),
            spare_dir=os.path.join(os.path.dirname(work_dir), SPARE_DIR),
        )

        async def on_start(cmd: RunningCommand) -> None:
            self._running += 1
            counted.append(cmd)
            await job.set_pid(cmd.pid)

        async def on_end(cmd: RunningCommand, status: ExitStatus) -> None:
            job.set_resources(Resources(cpu_s=status.cpu_s, peak_rss_bytes=status.peak_rss_bytes))

        counted: list[RunningCommand] = []
        tail = StderrTail(MetricSink(job))
        try:
            status = await run_command(
                self._spawner, spec, tail, grace_s=grace, on_start=on_start, on_end=on_end
            )
        except SpawnError as exc:
            raise TaskFailed(
                "spawn_failed", exc.message, {"errno": exc.errno, "program": argv[0]}
            ) from None
        except ValueError as exc:  # a NUL byte in an argument or variable
            raise TaskFailed("validation", f"cannot run the command: {exc}") from None
        except SpawnerCrashed as exc:
            raise TaskFailed("crashed", exc.message, exc.details) from None
        finally:
            if counted:
                self._running -= 1
                try:
                    await job.set_pid(None)
                except Exception:
                    logger.exception("could not record the end of process %d", counted[0].pid)
        try:
            return _outcome(status)
        except TaskFailed as failed:
            failed.details.update(tail.details())
            raise


def _outcome(status: ExitStatus) -> dict[str, Any]:
    code = status.returncode
    if code == 0:
        return {"exit_code": 0}
    if code is None:
        raise TaskFailed("exit_code", "command ended with an unknown status", {"exit_code": None})
    if code < 0:
        sig = status.signal_name
        raise TaskFailed(
            "exit_code", f"command was killed by {sig}", {"exit_code": code, "signal": sig}
        )
    raise TaskFailed("exit_code", f"command exited with status {code}", {"exit_code": code})


@hookimpl
def seqd_register_task_types(register: Callable[[TaskType], None]) -> None:
    register(ShellTaskType())
