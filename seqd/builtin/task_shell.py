"""The built-in ``shell`` task type: run a command in its own process group.

The command writes stdout/stderr straight into files in the run's work dir, which are
tailed into the run log as they grow — output never piles up in the daemon, and past the
log cap the files are truncated instead of read. Inputs reach the command through the
environment (``$SEQD_INPUT_<NAME>``, ``$SEQD_INPUT``) and, for argv commands only,
through ``{name}`` placeholders: a ``"shell": true`` string is never substituted into,
since that would let an input inject shell code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, TypeVar

import msgspec
from msgspec import Meta

from seqd import hookimpl
from seqd.config import ConfigError
from seqd.errors import TaskFailed
from seqd.logtail import Changes, ChangeWatcher, LineReader
from seqd.models import LogStream, Problem, Resources
from seqd.procs import ExitStatus, Process, SpawnError, spawn_async
from seqd.tasktype import Job, Services, TaskSource, TaskType

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_PASSTHROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME", "TMPDIR")
MAX_ENV_VALUE_BYTES = 100 * 1024
"""Linux refuses any single environment string over 128 KiB (``E2BIG``): larger input
values are left out of the environment; ``$SEQD_INPUT_FILE`` always has them."""
READ_BUDGET_BYTES = 512 * 1024
"""Bytes read per stream per thread hop: bounds daemon memory whatever the output size."""

_PLACEHOLDER = re.compile(r"\$\{[^{}]*\}|\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
"""``{name}`` placeholders; ``{{``/``}}`` escape braces; ``${VAR}`` (shell parameter
syntax, common in ``sh -c`` scripts) is left alone."""
_ENV_NAME_CHARS = re.compile(r"[^A-Za-z0-9]")
_STREAMS: tuple[LogStream, LogStream] = ("stdout", "stderr")
SMALL_FILE_BYTES = 64 * 1024
INLINE_READ_BYTES = 16 * 1024
WATCH_AFTER_S = 0.05
FULL_TRUNCATE_INTERVAL_S = 0.5
INPUT_FILE = "input.json"
"""In the work dir, next to ``stdout.log`` and ``stderr.log``: the run's input as JSON."""


class ShellOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A shell task's own ``config.json`` fields."""

    command: list[str] | str
    shell: bool = False
    env: dict[str, str] = {}
    cwd: str | None = None
    """Relative to the task folder (the default); must stay inside it."""
    inherit_env: bool = False
    kill_grace_s: Annotated[float, Meta(ge=0)] | None = None


class ShellTypeConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[task_types.shell]`` in the daemon config."""

    kill_grace_s: Annotated[float, Meta(ge=0)] = 5.0
    allow_cwd_outside: bool = False
    env_passthrough: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_PASSTHROUGH))


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


def _env_problem(key: str) -> str | None:
    if not key:
        return "a variable name must not be empty"
    if "=" in key or "\0" in key:
        return f"variable name {key!r} must not contain '=' or NUL"
    return None


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


async def _finish_despite_cancel(aw: Awaitable[T]) -> T:
    """Run ``aw`` to the end even if we are cancelled again meanwhile (a timeout then a
    shutdown), then re-raise that cancellation: the group must always be ended."""
    task = asyncio.ensure_future(aw)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(task)
            break
        except asyncio.CancelledError:
            if task.done():
                raise
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return result


# -- the task type -----------------------------------------------------------------


class ShellTaskType:
    name = "shell"
    options_type: type[msgspec.Struct] | None = ShellOptions
    defining_files: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.config = ShellTypeConfig()
        self._running = 0
        self._watcher: ChangeWatcher | None = None
        self._watcher_loop: asyncio.AbstractEventLoop | None = None

    # -- catalog side ----------------------------------------------------------------

    def check(self, source: TaskSource) -> list[Problem]:
        opts = source.options
        if not isinstance(opts, ShellOptions):
            return [Problem(where="config.json", message="shell options were not decoded")]
        problems = [
            Problem(where="config.json: command", message=m)
            for m in _command_problems(opts, source.config)
        ]
        for key, value in opts.env.items():
            message = _env_problem(key)
            if message is None and "\0" in value:
                message = f"value of {key} must not contain NUL characters"
            if message is not None:
                problems.append(Problem(where="config.json: env", message=message))
        try:
            resolve_cwd(source.dir, opts.cwd, self.config.allow_cwd_outside)
        except ValueError as exc:
            problems.append(Problem(where="config.json: cwd", message=str(exc)))
        return problems

    async def input_schema(self, source: TaskSource) -> dict[str, Any] | None:
        return None

    # -- lifecycle -------------------------------------------------------------------

    async def start(self, services: Services) -> None:
        raw = services.config.task_types.get("shell", {})
        try:
            self.config = msgspec.convert(raw, ShellTypeConfig)
        except msgspec.ValidationError as exc:
            raise ConfigError(f"[task_types.shell]: {exc}") from None
        self._changes_watcher()

    async def stop(self, grace_s: float) -> None:
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None

    def stats(self) -> dict[str, int]:
        return {"running": self._running}

    def _changes_watcher(self) -> ChangeWatcher:
        loop = asyncio.get_running_loop()
        if self._watcher is None or self._watcher_loop is not loop:
            self._watcher = ChangeWatcher()
            self._watcher_loop = loop
        return self._watcher

    # -- running ---------------------------------------------------------------------

    def _argv(self, opts: ShellOptions, inputs: Mapping[str, Any]) -> list[str]:
        problems = _command_problems(opts, {})
        if problems:
            raise TaskFailed("validation", f"command: {problems[0]}")
        if isinstance(opts.command, str):
            return ["/bin/sh", "-c", opts.command]  # never substituted: see module doc
        return [substitute(arg, inputs) for arg in opts.command]

    def _env(self, opts: ShellOptions, job: Job, work_dir: str) -> dict[str, str]:
        daemon_env = os.environ
        if opts.inherit_env:
            env = dict(daemon_env)
        else:
            env = {k: daemon_env[k] for k in self.config.env_passthrough if k in daemon_env}
        env.update(opts.env)
        reserved = {
            "SEQD_RUN_ID": job.run.id,
            "SEQD_TASK": job.task.name,
            "SEQD_TASK_DIR": os.path.abspath(job.task.dir),
            "SEQD_WORK_DIR": work_dir,
            "SEQD_INPUT_FILE": os.path.join(work_dir, INPUT_FILE),
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
            cwd = resolve_cwd(job.task.dir, opts.cwd, self.config.allow_cwd_outside)
        except ValueError as exc:
            raise TaskFailed("validation", f"cwd: {exc}", {"field": "cwd"}) from None
        grace = opts.kill_grace_s if opts.kill_grace_s is not None else self.config.kill_grace_s
        work_dir = job.work_dir
        input_json = msgspec.json.encode(job.input)
        if len(input_json) > SMALL_FILE_BYTES:
            await asyncio.to_thread(_write_file, os.path.join(work_dir, INPUT_FILE), input_json)
        else:  # one small write costs less than a hop to a thread and back
            _write_file(os.path.join(work_dir, INPUT_FILE), input_json)
        env = self._env(opts, job, work_dir)
        paths = {s: os.path.join(work_dir, f"{s}.log") for s in _STREAMS}
        watcher = self._changes_watcher()
        changes = _LazyChanges(lambda: watcher.watch(work_dir))
        readers = {s: LineReader(p) for s, p in paths.items()}
        try:
            try:
                proc = await spawn_async(
                    argv, env=env, cwd=cwd, stdout=paths["stdout"], stderr=paths["stderr"]
                )
            except SpawnError as exc:
                raise TaskFailed(
                    "spawn_failed", exc.message, {"errno": exc.errno, "program": argv[0]}
                ) from None
            except ValueError as exc:  # a NUL byte in an argument or variable
                raise TaskFailed("validation", f"cannot run the command: {exc}") from None
            self._running += 1
            try:
                status = await self._supervise(job, proc, changes, readers, grace)
            finally:
                self._running -= 1
        finally:
            changes.close()
            for reader in readers.values():
                reader.close()
        return _outcome(status)

    async def _supervise(
        self,
        job: Job,
        proc: Process,
        changes: _LazyChanges,
        readers: dict[LogStream, LineReader],
        grace_s: float,
    ) -> ExitStatus:
        tail = _Tail(job, changes, readers)
        try:
            await job.set_pid(proc.pid)
            await proc.wait()
        except BaseException:
            await _finish_despite_cancel(self._end(job, proc, tail, proc.terminate(grace_s)))
            raise
        return await _finish_despite_cancel(self._end(job, proc, tail, proc.wait()))

    async def _end(
        self, job: Job, proc: Process, tail: _Tail, ending: Awaitable[ExitStatus]
    ) -> ExitStatus:
        status = await ending
        job.set_resources(Resources(cpu_s=status.cpu_s, peak_rss_bytes=status.peak_rss_bytes))
        await tail.finish()
        try:
            await job.set_pid(None)
        except Exception:
            logger.exception("could not record the end of process %d", proc.pid)
        return status


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


def _write_file(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


class _LazyChanges:
    """An inotify watch made only when first needed: most commands end within
    ``WATCH_AFTER_S`` and then never cost a watch (whose removal waits for an RCU grace
    period in the kernel)."""

    def __init__(self, make: Callable[[], Changes]) -> None:
        self._make = make
        self.changes: Changes | None = None

    def get(self) -> Changes:
        if self.changes is None:
            self.changes = self._make()
        return self.changes

    def close(self) -> None:
        if self.changes is not None:
            self.changes.close()


class _Tail:
    """Feeds both output files into the job log as they grow, until ``finish``."""

    def __init__(
        self, job: Job, changes: _LazyChanges, readers: dict[LogStream, LineReader]
    ) -> None:
        self.job = job
        self.changes = changes
        self.readers = readers
        self._stopping = False
        self._stop = asyncio.Event()
        self._task = asyncio.ensure_future(self._run())

    async def finish(self) -> None:
        """Read what is left (to the end of the files), then stop."""
        self._stopping = True
        self._stop.set()
        if self.changes.changes is not None:
            self.changes.changes.event.set()
        try:
            await self._task
        except Exception:
            logger.exception("tailing the output of run %s failed", self.job.run.id)

    async def _run(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), WATCH_AFTER_S)
        if not self._stopping:
            # Still running: from now on every write wakes us; first catch up.
            changes = self.changes.get()
            changes.event.set()
        while True:
            if not self._stopping:
                await self.changes.get().wait()
            final = self._stopping
            await self._pump()
            if final:
                for stream, reader in self.readers.items():
                    for line in reader.flush():
                        if self._room():
                            self.job.log(stream, line)
                return

    async def _pump(self) -> None:
        """Read until the files have nothing new; once the log is full, shrink them
        (at most every ``FULL_TRUNCATE_INTERVAL_S``: past the cap nothing is read)."""
        more = True
        while more:
            if not self._room():
                await asyncio.to_thread(_discard_all, self.readers)
                if not self._stopping:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), FULL_TRUNCATE_INTERVAL_S)
                return
            if sum(reader.unread() for reader in self.readers.values()) <= INLINE_READ_BYTES:
                batches, more = _read_all(self.readers)  # a few KiB: cheaper than a thread
            else:
                batches, more = await asyncio.to_thread(_read_all, self.readers)
            for stream, lines in batches:
                for line in lines:
                    if not self._room():
                        break
                    self.job.log(stream, line)
            await self.job.wait_logged()  # storage keeps pace, memory stays flat

    def _room(self) -> bool:
        """The log still takes lines (re-read each time: ``log`` may fill it)."""
        return not self.job.log_full


def _read_all(
    readers: dict[LogStream, LineReader],
) -> tuple[list[tuple[LogStream, list[str]]], bool]:
    batches: list[tuple[LogStream, list[str]]] = []
    more = False
    for stream, reader in readers.items():
        lines, pending = reader.read_lines(READ_BUDGET_BYTES)
        batches.append((stream, lines))
        more = more or pending
    return batches, more


def _discard_all(readers: dict[LogStream, LineReader]) -> None:
    for reader in readers.values():
        reader.discard()


@hookimpl
def seqd_register_task_types(register: Callable[[TaskType], None]) -> None:
    register(ShellTaskType())
