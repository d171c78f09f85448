"""The task catalog: the current definition of every task, reloaded on demand.

Entries are immutable snapshots per version; a reload swaps in new ones, so a run that
already started keeps the ``TaskSource`` (and version) it started with. Input schemas
derived from a python function signature are asked of the task type (which inspects
the code in a worker, never in the daemon) and cached per version.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError, best_match

from seqd.catalog.load import Sections, TaskEntry, scan
from seqd.errors import NotRunnable, ValidationFailed
from seqd.model.suggest import unknown
from seqd.model.tasks import Problem, TaskSummary
from seqd.plugins.host import Registry
from seqd.plugins.tasktype import TaskRef, TaskType
from seqd.rpc.status import ReloadResult

logger = logging.getLogger(__name__)


class Catalog:
    def __init__(
        self,
        dirs: Sequence[str],
        task_types: Registry[TaskType],
        sections: Sections | None = None,
    ) -> None:
        self.dirs = list(dirs)
        self.task_types = task_types
        self.sections = dict(sections or {})
        """config.json keys other parts of the daemon read, with their checks."""
        self.entries: dict[str, TaskEntry] = {}
        self._reload_lock = asyncio.Lock()
        self._resolving: dict[tuple[str, str | None], asyncio.Task[None]] = {}
        self._reported: dict[str, tuple[str | None, str]] = {}
        """Invalid tasks already logged: (version, problems) of each."""

    async def reload(self, report: bool = True) -> ReloadResult:
        """Load the task folders again. ``report=False``: do not log invalid tasks yet
        (at start-up, before the tools that flows check are known)."""
        async with self._reload_lock:
            fresh = await asyncio.to_thread(scan, self.dirs, self.task_types, self.sections)
            changed: list[str] = []
            ask: list[TaskEntry] = []
            for name, entry in fresh.items():
                old = self.entries.get(name)
                if old is None or old.definition.version != entry.definition.version:
                    changed.append(name)
                    ask.append(entry)
                elif old.schema_failed:
                    ask.append(entry)  # same version, but its schema failed: ask again
                else:
                    fresh[name] = old  # keeps its resolved schema
            changed.extend(sorted(set(self.entries) - set(fresh)))
            self._cross_check(fresh)
            self.entries = fresh
            if report:
                self._report_invalid()
            for new in ask:
                if self._needs_schema(new):
                    self._resolve_later(new)
            invalid = sorted(n for n, e in fresh.items() if not e.definition.valid)
            for name in changed:
                if name in fresh:
                    for warning in self.warnings(name):
                        logger.warning("task %s: %s: %s", name, warning.where, warning.message)
            if changed:
                logger.info(
                    "tasks loaded: %d (%d changed, %d invalid)",
                    len(fresh),
                    len(changed),
                    len(invalid),
                )
            return ReloadResult(tasks=len(fresh), changed=sorted(changed), invalid=invalid)

    # -- checks that depend on other tasks ---------------------------------------------

    def _ref(self, entries: dict[str, TaskEntry], name: str) -> TaskRef | None:
        entry = entries.get(name)
        if entry is None:
            return None
        own = entry.own_problems if entry.own_problems is not None else entry.definition.problems
        return TaskRef(
            name=name,
            type=entry.definition.type,
            valid=entry.source is not None and not own,
            inputs=entry.definition.inputs,
            source=entry.source,
            problems=tuple(f"{p.where}: {p.message}" for p in own),
        )

    def _check_with(self, entries: dict[str, TaskEntry], entry: TaskEntry) -> list[Problem]:
        source = entry.source
        task_type = self.task_types.get(source.type) if source is not None else None
        check = getattr(task_type, "check_with", None)
        if source is None or check is None:
            return []
        try:
            problems: list[Problem] = check(source, lambda name: self._ref(entries, name))
        except Exception as exc:
            logger.exception("task type %s failed to check %s", source.type, entry.name)
            problems = [Problem(where="type", message=f"task type {source.type} failed: {exc}")]
        return problems

    def _cross_check(self, entries: dict[str, TaskEntry]) -> None:
        """Recompute, for every task, the problems that depend on the others."""
        for entry in entries.values():
            self._recheck(entries, entry)

    def _recheck(self, entries: dict[str, TaskEntry], entry: TaskEntry) -> None:
        if entry.own_problems is None:
            entry.own_problems = list(entry.definition.problems)
        own = entry.own_problems
        # Checked against the other tasks even when it has problems of its own, so that
        # one validation tells everything (a check may repeat one of its own: once).
        cross = [p for p in self._check_with(entries, entry) if p not in own]
        entry.definition.problems = own + cross
        entry.definition.valid = not entry.definition.problems

    async def reload_checks(self) -> None:
        """Recompute the cross-task problems (after something they depend on, such as
        the tool registry, became known)."""
        async with self._reload_lock:
            self._cross_check(self.entries)
            self._report_invalid()

    # -- telling operators -------------------------------------------------------------

    def _report_invalid(self) -> None:
        """A WARNING for each invalid task whose problems were not reported yet: once
        per problem, not at every reload."""
        for name in set(self._reported) - set(self.entries):
            del self._reported[name]
        for name, entry in sorted(self.entries.items()):
            if entry.definition.valid:
                self._reported.pop(name, None)
            else:
                self._warn_invalid(entry)

    def _warn_invalid(self, entry: TaskEntry) -> None:
        problems = " ".join(
            "; ".join(f"{p.where}: {p.message}" for p in entry.definition.problems).split()
        )
        said = (entry.definition.version, problems)
        if self._reported.get(entry.name) != said:
            self._reported[entry.name] = said
            logger.warning("task %s is invalid (not_runnable): %s", entry.name, problems[:1000])

    async def validate(self, name: str) -> list[Problem]:
        """Every problem of a task now, with the input schemas of the tasks it refers to
        resolved first (signature-derived schemas are known only once asked)."""
        entry = await self.resolved(self.get(name))
        if entry.source is not None:
            for other in list(self.entries.values()):
                if other is not entry and other.definition.inputs_from != "config":
                    await self.resolved(other)
            self._recheck(self.entries, entry)
        return entry.definition.problems

    def warnings(self, name: str) -> list[Problem]:
        """What is legal but risky in a task (its task type's optional
        ``warnings(source)``, e.g. an input put into a ``sh -c`` script)."""
        entry = self.get(name)
        source = entry.source
        task_type = self.task_types.get(source.type) if source is not None else None
        check = getattr(task_type, "warnings", None)
        if source is None or check is None:
            return []
        try:
            found: list[Problem] = check(source)
        except Exception:
            logger.exception("task type %s failed to look for warnings in %s", source.type, name)
            return []
        return found

    def get(self, name: str) -> TaskEntry:
        entry = self.entries.get(name)
        if entry is None:
            raise unknown(f"no task named {name!r}", name, self.entries, {"task": name})
        return entry

    def summaries(self, tag: str | None = None) -> list[TaskSummary]:
        return [
            e.summary()
            for _, e in sorted(self.entries.items())
            if tag is None or tag in e.definition.tags
        ]

    # -- input schemas -------------------------------------------------------------

    @staticmethod
    def _needs_schema(entry: TaskEntry) -> bool:
        d = entry.definition
        return d.valid and d.inputs_from != "config" and not entry.schema_asked

    def _resolve_later(self, entry: TaskEntry) -> None:
        key = (entry.name, entry.definition.version)
        if key in self._resolving:
            return
        task = asyncio.ensure_future(self._resolve(entry))
        self._resolving[key] = task
        task.add_done_callback(lambda _t: self._resolving.pop(key, None))

    async def resolved(self, entry: TaskEntry) -> TaskEntry:
        """The entry with its signature-derived schema in place (asked once)."""
        if self._needs_schema(entry):
            key = (entry.name, entry.definition.version)
            if key not in self._resolving:
                self._resolve_later(entry)
            await asyncio.shield(self._resolving[key])
        return entry

    async def _resolve(self, entry: TaskEntry) -> None:
        assert entry.source is not None
        task_type = self.task_types.get(entry.source.type)
        if task_type is None:
            return
        try:
            schema = await task_type.input_schema(entry.source)
            if schema is not None:
                Draft202012Validator.check_schema(schema)
                entry.validator = Draft202012Validator(schema)
                entry.definition.inputs = schema
                entry.definition.inputs_from = "signature"
            entry.schema_asked = True
        except SchemaError as exc:
            self._invalidate(entry, "inputs", f"derived schema is invalid: {exc.message}")
        except Exception as exc:
            message = getattr(exc, "message", None) or str(exc)
            self._invalidate(entry, "code.py", message)

    def _invalidate(self, entry: TaskEntry, where: str, message: str) -> None:
        entry.schema_failed = True  # a reload asks again, even for the same version
        problem = Problem(where=where, message=message)
        entry.definition.problems = [*entry.definition.problems, problem]
        if entry.own_problems is not None:
            entry.own_problems = [*entry.own_problems, problem]
        entry.definition.valid = False
        self._warn_invalid(entry)

    async def runnable(self, name: str) -> TaskEntry:
        entry = await self.resolved(self.get(name))
        if not entry.runnable:
            problems = [f"{p.where}: {p.message}" for p in entry.definition.problems]
            raise NotRunnable(
                f"task {name!r} is not runnable: " + "; ".join(problems),
                {"task": name, "problems": problems},
            )
        return entry

    @staticmethod
    def check_input(entry: TaskEntry, data: dict[str, Any]) -> dict[str, Any]:
        """Fill top-level defaults from the schema, then validate; errors name the field."""
        schema = entry.definition.inputs or {}
        properties = schema.get("properties")
        if isinstance(properties, dict):
            filled = dict(data)
            for key, prop in properties.items():
                if key not in filled and isinstance(prop, dict) and "default" in prop:
                    filled[key] = prop["default"]
            data = filled
        if entry.validator is not None and not entry.validator.is_valid(data):
            # Valid input (the usual case) stops at the first check; only a bad one
            # pays for collecting every error to pick the most relevant.
            error = best_match(entry.validator.iter_errors(data))
            if error is not None:
                path = ".".join(str(p) for p in error.absolute_path)
                field = f"input.{path}" if path else "input"
                details = {"field": field, "reason": error.message, "task": entry.name}
                hint = json_hint(error)
                if hint:
                    details["hint"] = hint
                message = f"{field}: {error.message}" + (f" ({hint})" if hint else "")
                raise ValidationFailed(message, details)
        return data


_JSON_KINDS = {
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "null": (type(None),),
    "array": (list,),
    "object": (dict,),
}


def json_hint(error: ValidationError) -> str | None:
    """For a top-level input given as a string where the schema wants a number (or a
    boolean, null, a list, an object) and the string is that value written as JSON —
    ``-i n=5`` instead of ``-i n:=5`` — how to give it as JSON."""
    path = list(error.absolute_path)
    if error.validator != "type" or len(path) != 1 or not isinstance(error.instance, str):
        return None
    wanted = error.validator_value
    kinds = [wanted] if isinstance(wanted, str) else wanted if isinstance(wanted, list) else []
    try:
        value = json.loads(error.instance)
    except ValueError:
        return None
    if any(isinstance(value, _JSON_KINDS.get(k, ())) for k in kinds if k != "string"):
        if isinstance(value, bool) and "boolean" not in kinds:
            return None
        name, text = path[0], error.instance.strip()
        return f"use -i {name}:={text} to pass it as JSON; -i {name}={text} passes a string"
    return None
