"""Loading one task folder into a validated definition.

Loading never raises for a bad task: every problem (bad JSON, wrong types, unknown
type, escaping symlinks, a schema that is not a schema...) is recorded on the entry,
shown by ``tasks ls`` / ``tasks validate``, and makes the task not runnable. Nothing
outside the task directories is read: folders and files are resolved and checked to
stay inside. Each entry has a version: a content hash of its folder.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from seqd.catalog.fields import CONFIG_FILE as CONFIG_FILE
from seqd.catalog.fields import decode_fields
from seqd.catalog.fields import problem as _problem
from seqd.model.suggest import did_you_mean
from seqd.model.tasks import TASK_NAME_PATTERN, Problem, RetryPolicy, TaskDef, TaskSummary
from seqd.plugins.host import Registry
from seqd.plugins.tasktype import TaskSource, TaskType

logger = logging.getLogger(__name__)

MAX_CONFIG_BYTES = 1024 * 1024
MAX_DEFINING_BYTES = 4 * 1024 * 1024
MAX_HASHED_BYTES = 8 * 1024 * 1024
SKIP_DIRS = frozenset({"runs", "__pycache__", "node_modules", ".git"})
_NAME = re.compile(TASK_NAME_PATTERN)


class StrictRetry(RetryPolicy, forbid_unknown_fields=True, kw_only=True):
    """``retries`` as written in config.json: a misspelt key is an error."""


class CoreConfig(msgspec.Struct, kw_only=True):
    """The fields every task config has; the task type decodes the rest strictly."""

    type: str
    description: str = ""
    inputs: dict[str, Any] | None = None
    timeout_s: float | None = msgspec.field(default=None)
    retries: StrictRetry = msgspec.field(default_factory=StrictRetry)
    concurrency: int | None = None
    tags: list[str] = []


CORE_KEYS = frozenset(CoreConfig.__struct_fields__)

Sections = Mapping[str, Callable[[Any], list[Problem]]]
"""Keys of config.json that belong to other parts of the daemon (``schedules``: the
scheduler's), each with its check: the task type never sees them, and their problems
(``where`` relative to config.json, like ``schedules[0].cron``) are the task's."""


@dataclass
class TaskEntry:
    definition: TaskDef
    source: TaskSource | None
    validator: Draft202012Validator | None = None
    schema_asked: bool = False
    schema_failed: bool = False
    """Whether the task type was asked for a schema (only when config.json has none)."""
    own_problems: list[Problem] | None = None
    """Problems of the task by itself, kept apart from those that depend on other tasks
    (which the catalog recomputes at each reload)."""

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def runnable(self) -> bool:
        return self.definition.valid and self.source is not None

    def summary(self) -> TaskSummary:
        d = self.definition
        return TaskSummary(
            name=d.name,
            type=d.type,
            description=d.description,
            version=d.version,
            valid=d.valid,
            problems=d.problems,
            tags=d.tags,
        )


def inside(path: str, root: str) -> bool:
    """Whether ``path`` is ``root`` or below it (both already resolved)."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def folder_version(folder: str) -> tuple[str, list[Problem]]:
    """Content hash of a task folder: every regular file inside it (not ``runs/``,
    caches or hidden files). Symlinks leading out of the folder are not followed."""
    digest = hashlib.sha256()
    problems: list[Problem] = []
    real_root = os.path.realpath(folder)
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in SKIP_DIRS
            and not d.startswith(".")
            and inside(os.path.realpath(os.path.join(dirpath, d)), real_root)
        )
        for name in sorted(filenames):
            if name.startswith(".") or name.endswith(".pyc"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, folder)
            real = os.path.realpath(path)
            if not inside(real, real_root):
                problems.append(_problem(rel, "symlink points outside the task folder; ignored"))
                continue
            try:
                st = os.stat(real)
                digest.update(rel.encode() + b"\0")
                if st.st_size > MAX_HASHED_BYTES:
                    digest.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
                else:
                    with open(real, "rb") as fh:
                        digest.update(fh.read())
            except OSError as exc:
                problems.append(_problem(rel, f"unreadable: {exc.strerror}"))
    return digest.hexdigest()[:16], problems


def read_text(path: str, limit: int) -> str:
    """A UTF-8 file of at most ``limit`` bytes (``ValueError`` when larger)."""
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"larger than {limit} bytes")
    return data.decode("utf-8")


def load_task(
    folder: str, name: str, task_types: Registry[TaskType], sections: Sections | None = None
) -> TaskEntry:
    """Load one task folder into an entry; problems are collected, never raised."""
    problems: list[Problem] = []
    definition = TaskDef(name=name, type=None, path=folder, valid=False)
    if not _NAME.match(name):
        problems.append(
            _problem("folder", f"{name!r} is not a valid task name ({TASK_NAME_PATTERN})")
        )
    version, hash_problems = folder_version(folder)
    definition.version = version
    problems.extend(hash_problems)
    config_path = os.path.join(folder, CONFIG_FILE)
    real_folder = os.path.realpath(folder)
    if not os.path.isfile(config_path):
        problems.append(_problem(CONFIG_FILE, "missing"))
        definition.problems = problems
        return TaskEntry(definition, None)
    if not inside(os.path.realpath(config_path), real_folder):
        problems.append(_problem(CONFIG_FILE, "is a symlink leading outside the task folder"))
        definition.problems = problems
        return TaskEntry(definition, None)
    try:
        raw = msgspec.json.decode(read_text(config_path, MAX_CONFIG_BYTES))
    except (OSError, ValueError, msgspec.DecodeError) as exc:
        problems.append(_problem(CONFIG_FILE, f"not valid JSON: {exc}"))
        definition.problems = problems
        return TaskEntry(definition, None)
    if not isinstance(raw, dict):
        problems.append(_problem(CONFIG_FILE, "must be a JSON object"))
        definition.problems = problems
        return TaskEntry(definition, None)
    core, core_problems, good = decode_fields(
        {k: v for k, v in raw.items() if k in CORE_KEYS}, CoreConfig, check_unknown=False
    )
    problems.extend(core_problems)
    if core is None:
        if "type" not in good:  # nothing more can be known without the type
            definition.problems = problems
            return TaskEntry(definition, None)
        core = CoreConfig(**good)  # the fields that are right; the others as by default
    definition.type = core.type
    definition.description = core.description
    definition.timeout_s = core.timeout_s
    definition.retries = core.retries
    definition.concurrency = core.concurrency
    definition.tags = core.tags
    problems.extend(_core_problems(core))
    validator = None
    if core.inputs is not None:
        definition.inputs = core.inputs
        definition.inputs_from = "config"
        try:
            Draft202012Validator.check_schema(core.inputs)
            validator = Draft202012Validator(core.inputs)
            if core.inputs.get("type", "object") != "object":
                problems.append(_problem(f"{CONFIG_FILE}: inputs", 'must have "type": "object"'))
        except SchemaError as exc:
            problems.append(
                _problem(f"{CONFIG_FILE}: inputs", f"not a valid JSON Schema: {exc.message}")
            )
    task_type = task_types.get(core.type)
    if task_type is None:
        names = task_types.names()
        known = ", ".join(names) or "none"
        problems.append(
            _problem(
                f"{CONFIG_FILE}: type",
                f"unknown task type {core.type!r}{did_you_mean(core.type, names)} (known: {known})",
            )
        )
        definition.problems = problems
        return TaskEntry(definition, None)
    for key, check in (sections or {}).items():
        if key in raw:
            for problem in check(raw[key]):
                problems.append(_problem(f"{CONFIG_FILE}: {problem.where}", problem.message))
    own = {k: v for k, v in raw.items() if k not in (sections or {})}
    options, option_problems, _ = _options(own, task_type, core.type)
    problems.extend(option_problems)
    if options is not None:
        definition.options = msgspec.to_builtins(options)
    files: dict[str, str] = {}
    file_problems: list[Problem] = []
    for fname in task_type.defining_files:
        fpath = os.path.join(folder, fname)
        if not os.path.isfile(fpath):
            continue
        if not inside(os.path.realpath(fpath), real_folder):
            file_problems.append(_problem(fname, "is a symlink leading outside the task folder"))
            continue
        try:
            files[fname] = read_text(fpath, MAX_DEFINING_BYTES)
        except (OSError, ValueError) as exc:
            file_problems.append(_problem(fname, f"unreadable: {exc}"))
    problems.extend(file_problems)
    source = TaskSource(
        name=name,
        dir=folder,
        version=version,
        type=core.type,
        config=raw,
        options=options,
        files=files,
    )
    if (options is not None or task_type.options_type is None) and not file_problems:
        # The task type checks what it decoded, even beside problems of the core fields.
        try:
            problems.extend(task_type.check(source))
        except Exception as exc:
            logger.exception("task type %s failed to check %s", core.type, name)
            problems.append(_problem("type", f"task type {core.type} failed: {exc}"))
    definition.problems = problems
    definition.valid = not problems
    return TaskEntry(definition, source, validator)


def _core_problems(core: CoreConfig) -> list[Problem]:
    problems = []
    if core.timeout_s is not None and core.timeout_s <= 0:
        problems.append(_problem(f"{CONFIG_FILE}: timeout_s", "must be greater than 0"))
    if core.concurrency is not None and core.concurrency < 1:
        problems.append(_problem(f"{CONFIG_FILE}: concurrency", "must be at least 1"))
    if core.retries.max < 0 or core.retries.backoff_s < 0 or core.retries.factor < 1:
        problems.append(
            _problem(
                f"{CONFIG_FILE}: retries",
                "max and backoff_s must be ≥ 0 and factor ≥ 1",
            )
        )
    return problems


def _options(
    raw: dict[str, Any], task_type: TaskType, type_name: str
) -> tuple[msgspec.Struct | None, list[Problem], dict[str, Any]]:
    """The task type's own fields (all but the core ones), decoded into its
    ``options_type``, with every problem; a type without options takes no other field."""
    rest = {k: v for k, v in raw.items() if k not in CORE_KEYS}
    if task_type.options_type is not None:
        return decode_fields(rest, task_type.options_type, others=CORE_KEYS)
    return (
        None,
        [
            _problem(
                f"{CONFIG_FILE}: {key}",
                f"unknown field for type {type_name}{did_you_mean(key, CORE_KEYS)}",
            )
            for key in rest
        ],
        {},
    )


def subfolders(path: str) -> list[tuple[str, str]]:
    """``(name, path)`` of the folders directly in ``path`` that may hold a definition,
    sorted by name; hidden (``.``) and private (``_``) ones are skipped."""
    found = []
    for name in sorted(os.listdir(path)):
        folder = os.path.join(path, name)
        if not name.startswith((".", "_")) and os.path.isdir(folder):
            found.append((name, folder))
    return found


def scan(
    dirs: Iterable[str], task_types: Registry[TaskType], sections: Sections | None = None
) -> dict[str, TaskEntry]:
    """Load every task folder of every directory; the first directory wins a name."""
    entries: dict[str, TaskEntry] = {}
    for root in dirs:
        if not os.path.isdir(root):
            logger.warning("task directory %s does not exist", root)
            continue
        real_root = os.path.realpath(root)
        for name, folder in subfolders(root):
            if not inside(os.path.realpath(folder), real_root):
                logger.warning("task folder %s leads outside %s; ignored", folder, root)
                continue
            if name in entries:
                logger.warning(
                    "task %s in %s is shadowed by %s", name, root, entries[name].definition.path
                )
                continue
            try:
                entries[name] = load_task(folder, name, task_types, sections)
            except Exception:
                logger.exception("loading task %s failed", folder)
    return entries
