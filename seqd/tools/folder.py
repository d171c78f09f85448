"""Folder tools: a tool defined without a package, as ``<dir>/<category>/<name>/``
holding ``config.json`` (description, params and result schemas, entry, timeout) and
``code.py`` (``def run(ctx, **params)``, sync or async). Its name is
``<category>.<name>``.

Loaded like tasks (``seqd.catalog.load``: problems are recorded, never raised; nothing
outside the tool directories is read; the version is a hash of the folder) and reloaded
with them (SIGHUP, ``daemon.reload``, the directory watcher). A call runs ``code.py``
in the python task type's worker pool — the same processes, isolation and limits as a
python task — never in the daemon.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from seqd.catalog.load import (
    CONFIG_FILE,
    MAX_CONFIG_BYTES,
    MAX_DEFINING_BYTES,
    folder_version,
    inside,
    read_text,
    subfolders,
)
from seqd.errors import NotRunnable, TaskFailed, Timeout, ToolFailed
from seqd.model import timeutil
from seqd.model.ids import IdGenerator
from seqd.model.runs import LogStream, NewStep, Resources, Run, Step
from seqd.model.tasks import Problem
from seqd.plugins.host import Registry
from seqd.plugins.tasktype import TaskSource, TaskType
from seqd.plugins.tools import ToolContext

if TYPE_CHECKING:
    from seqd.tools.compiled import CompiledTool

logger = logging.getLogger(__name__)

CODE = "code.py"
PART = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
RUNNER_TYPE = "python"
MAX_LOG_BYTES = 1024 * 1024
_ids = IdGenerator()


class FolderConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A folder tool's ``config.json``."""

    description: str = ""
    params: dict[str, Any] | None = None
    """JSON Schema of the params; absent: derived from ``run``'s signature."""
    result: dict[str, Any] = {}
    entry: str = "run"
    timeout_s: float | None = None


@dataclass
class FolderEntry:
    name: str
    dir: str
    version: str
    description: str = ""
    problems: list[Problem] = field(default_factory=list)
    tool: FolderTool | None = None
    compiled: CompiledTool | None = None


def load_folder(folder: str, name: str, runner: TaskType | None) -> FolderEntry:
    """One tool folder into an entry; problems are collected, never raised."""
    version, problems = folder_version(folder)
    entry = FolderEntry(name=name, dir=folder, version=version, problems=problems)
    real = os.path.realpath(folder)
    config_path = os.path.join(folder, CONFIG_FILE)
    code_path = os.path.join(folder, CODE)
    for path, what in ((config_path, CONFIG_FILE), (code_path, CODE)):
        if not os.path.isfile(path):
            entry.problems.append(Problem(where=what, message="missing"))
        elif not inside(os.path.realpath(path), real):
            entry.problems.append(Problem(where=what, message="symlink leads outside the folder"))
    if entry.problems:
        return entry
    try:
        config = msgspec.json.decode(read_text(config_path, MAX_CONFIG_BYTES), type=FolderConfig)
        code = read_text(code_path, MAX_DEFINING_BYTES)
    except (OSError, ValueError, msgspec.DecodeError) as exc:
        entry.problems.append(Problem(where=CONFIG_FILE, message=str(exc)))
        return entry
    entry.description = config.description
    if config.timeout_s is not None and config.timeout_s <= 0:
        entry.problems.append(Problem(where=f"{CONFIG_FILE}: timeout_s", message="must be > 0"))
    if runner is None:
        entry.problems.append(Problem(where="type", message="the python task type is not loaded"))
        return entry
    options: msgspec.Struct | None = None
    if runner.options_type is not None:
        options = msgspec.convert({"entry": config.entry}, runner.options_type)
    source = TaskSource(
        name=name,
        dir=folder,
        version=version,
        type=RUNNER_TYPE,
        config={} if config.params is None else {"inputs": config.params},
        options=options,
        files={CODE: code},
    )
    entry.problems.extend(runner.check(source))
    if not entry.problems:
        entry.tool = FolderTool(name, config, source, runner)
    return entry


def scan(dirs: list[str], runner: TaskType | None) -> dict[str, FolderEntry]:
    """Every ``<category>/<name>`` folder of every directory; the first wins a name."""
    found: dict[str, FolderEntry] = {}
    for root in dirs:
        if not os.path.isdir(root):
            continue
        real_root = os.path.realpath(root)
        for category, cat_dir in subfolders(root):
            for tool, folder in subfolders(cat_dir):
                name = f"{category}.{tool}"
                if not inside(os.path.realpath(folder), real_root):
                    logger.warning("tool folder %s leads outside %s; ignored", folder, root)
                    continue
                if name in found:
                    logger.warning("tool %s in %s is shadowed by %s", name, root, found[name].dir)
                    continue
                if not (PART.fullmatch(category) and PART.fullmatch(tool)):
                    entry = FolderEntry(name=name, dir=folder, version="")
                    entry.problems.append(
                        Problem(
                            where="folder",
                            message=f"{name!r} is not a valid tool name: category and name "
                            "must match [a-z0-9][a-z0-9_-]*",
                        )
                    )
                    found[name] = entry
                    continue
                try:
                    found[name] = load_folder(folder, name, runner)
                except Exception:
                    logger.exception("loading tool folder %s failed", folder)
    return found


class FolderTools:
    """The folder tools of the configured directories, reloaded on demand."""

    def __init__(self, dirs: list[str], task_types: Registry[TaskType]) -> None:
        self.dirs = list(dirs)
        self.task_types = task_types
        self.entries: dict[str, FolderEntry] = {}
        self._lock = asyncio.Lock()

    async def reload(self, plugin_names: set[str]) -> list[str]:
        async with self._lock:
            runner = self.task_types.get(RUNNER_TYPE)
            fresh = await asyncio.to_thread(scan, self.dirs, runner)
            for name, entry in fresh.items():
                if name in plugin_names:
                    entry.problems.append(
                        Problem(where="name", message="a plugin tool has this name; it wins")
                    )
                    entry.tool = None
                old = self.entries.get(name)
                if old is not None and old.version == entry.version and not entry.problems:
                    fresh[name] = old  # keeps its compiled schema
            changed = sorted(
                n
                for n in set(fresh) | set(self.entries)
                if (fresh.get(n) is None)
                or (self.entries.get(n) is None)
                or fresh[n].version != self.entries[n].version
            )
            self.entries = fresh
            if changed:
                logger.info("tools loaded from folders: %d (%d changed)", len(fresh), len(changed))
            return changed

    def get(self, name: str) -> FolderEntry | None:
        return self.entries.get(name)

    def names(self) -> list[str]:
        return sorted(self.entries)


class FolderTool:
    """Implements ``seqd.plugins.tools.Tool`` by running ``code.py`` in the worker pool."""

    def __init__(
        self, name: str, config: FolderConfig, source: TaskSource, runner: TaskType
    ) -> None:
        self.name = name
        self.description = config.description
        self.params_schema: dict[str, Any] | type[msgspec.Struct] = config.params or {
            "type": "object"
        }
        self.result_schema: dict[str, Any] | type[Any] = config.result
        self.timeout_s = config.timeout_s
        self.source = source
        self.runner = runner
        self.schema_resolved = config.params is not None

    async def resolve_schema(self) -> None:
        """Without ``params`` in config.json, the schema comes from the signature (in a
        worker, cached per version by the python task type)."""
        if self.schema_resolved:
            return
        schema = await self.runner.input_schema(self.source)
        if schema is not None:
            self.params_schema = schema
        self.schema_resolved = True

    async def call(self, params: Any, ctx: ToolContext) -> Any:
        job = ToolJob(self, params, ctx)
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self.runner.execute(job)
        except TimeoutError:
            raise Timeout(
                f"tool {self.name!r} did not finish within {self.timeout_s}s",
                {"tool": self.name, "timeout_s": self.timeout_s},
            ) from None
        except TaskFailed as exc:
            raise ToolFailed(
                f"tool {self.name!r} failed: {exc.message}",
                {**exc.details, "tool": self.name, "reason": exc.type},
            ) from None
        finally:
            await job.cleanup()


class ToolJob:
    """The ``seqd.plugins.tasktype.Job`` a folder tool's call is to the python task type: its
    log goes to the caller's log (a run's), its work dir is the calling run's scratch
    dir, or a private one removed after the call."""

    def __init__(self, tool: FolderTool, params: Any, ctx: ToolContext) -> None:
        self._ctx = ctx
        self._input = params if isinstance(params, dict) else msgspec.to_builtins(params)
        run_id = _ids.new()
        self._run = Run(
            id=run_id,
            task=tool.name,
            status="running",
            input=self._input,
            parent_id=ctx.caller.run_id,
            root_id=ctx.caller.root_id or run_id,
            created_at=timeutil.now(),
            started_at=timeutil.now(),
        )
        self._source = tool.source
        scratch = ctx.roots.get("run")
        self._own_dir = scratch is None
        self._work = scratch or os.path.join(ctx.state_dir, "work", f"tool-{run_id}")
        self._logged = 0
        self._metric_noted = False
        self.resources: Resources | None = None

    @property
    def run(self) -> Run:
        return self._run

    @property
    def task(self) -> TaskSource:
        return self._source

    @property
    def input(self) -> dict[str, Any]:
        return self._input

    @property
    def work_dir(self) -> str:
        os.makedirs(self._work, exist_ok=True)
        return self._work

    @property
    def work_path(self) -> str:
        return self._work

    def log(self, stream: LogStream, text: str) -> None:
        if self._logged > MAX_LOG_BYTES:
            return
        self._logged += len(text) + 1
        self._ctx.log(stream, text)

    @property
    def log_full(self) -> bool:
        return self._logged > MAX_LOG_BYTES

    async def set_pid(self, pid: int | None) -> None:
        return None

    def metric(self, name: str, value: float, kind: str, labels: dict[str, str]) -> None:
        if not self._metric_noted:
            self._metric_noted = True
            self.log("system", "metrics are not recorded from folder tools; this one is dropped")

    def set_resources(self, resources: Resources) -> None:
        self.resources = resources

    async def wait_logged(self, backlog_bytes: int = 1 << 20) -> None:
        return None

    # A tool call is not a run: it has no journal and starts no durable work.

    def _not_durable(self, what: str) -> NotRunnable:
        return NotRunnable(
            f"{what} is not available inside a tool: a tool call is not a durable run",
            {"tool": self._run.task},
        )

    async def journal(self) -> list[Step]:
        raise self._not_durable("the journal")

    async def record(self, steps: list[NewStep]) -> None:
        raise self._not_durable("the journal")

    async def start_child(
        self, task: str, data: dict[str, Any], *, key: str, span_key: str | None = None
    ) -> Run:
        raise self._not_durable("starting a child run")

    async def wait_run(self, run_id: str) -> Run:
        raise self._not_durable("waiting for a run")

    async def cancel_run(self, run_id: str, reason: str) -> Run:
        raise self._not_durable("cancelling a run")

    async def call_tool(self, name: str, params: dict[str, Any], *, key: str | None = None) -> Any:
        raise self._not_durable("calling a tool")

    @property
    def cancel_kind(self) -> str | None:
        return None

    @property
    def cancel_reason(self) -> tuple[str, str] | None:
        return None

    async def cleanup(self) -> None:
        if self._own_dir:
            await asyncio.to_thread(shutil.rmtree, self._work, True)
