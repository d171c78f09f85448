"""The one way tools are called: from RPC (``tools.call``), from runs (``ctx.tool``,
flow states). Everything that makes a call safe and visible happens here, once:

1. the tool is looked up (plugin tools, then folder tools) — unknown: ``not_found``;
2. the caller's role must be at least the tool's (``tools.roles``; a run acts with
   its submitter's role);
3. the params are validated against the tool's schema — errors name ``params.<field>``;
4. the tool's token bucket (``[tools.rates]``) is charged — empty: ``rate_limited``
   with ``details.retry_after``;
5. the tool runs with a ``ToolContext``: the caller, the ``file.*`` roots this caller
   may reach, the hosts ``http.request`` may reach, the key-value store, the engine;
6. a ``ToolCall`` tracer event records tool, redacted params summary, duration and
   outcome; a failure comes back as a typed ``SeqdError`` (``tool_failed`` for a tool
   that broke), which a run can record in its journal.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

import msgspec

from seqd.access.policy import Policy
from seqd.config.secrets import Secrets
from seqd.config.settings import Config
from seqd.errors import (
    RateLimited,
    SeqdError,
    ToolFailed,
    ValidationFailed,
)
from seqd.model import timeutil
from seqd.model.suggest import unknown
from seqd.model.tasks import Problem
from seqd.plugins.host import Registry
from seqd.plugins.storage import StorageBackend
from seqd.plugins.tools import RunStarter, Tool, ToolCaller, ToolContext
from seqd.plugins.tracing import ToolCall, TraceEvent
from seqd.rpc.status import BucketInfo
from seqd.rpc.tools import ToolInfo
from seqd.storage.kvcache import KVCache
from seqd.tools.compiled import CompiledTool, compile_tool, validate_params
from seqd.tools.folder import FolderEntry, FolderTools
from seqd.tools.ratelimit import TokenBucket
from seqd.tools.redact import summarize

logger = logging.getLogger(__name__)

__all__ = ["ToolCaller", "ToolService"]


def _log_to_daemon(caller: ToolCaller) -> Callable[[str, str], None]:
    """Where a tool's log lines go when the caller gave no log: the daemon's log."""
    who = f"run {caller.run_id}" if caller.kind == "run" else f"uid {caller.uid}"

    def log(stream: str, text: str) -> None:
        logger.info("tool call from %s: %s: %s", who, stream, text)

    return log


class ToolService:
    """One per daemon (``app.tools``); the engine gets it to serve runs' tool calls."""

    def __init__(
        self,
        *,
        registry: Registry[Tool],
        folders: FolderTools,
        config: Config,
        state_dir: str,
        storage: StorageBackend,
        runs: RunStarter,
        emit: Callable[[TraceEvent], None],
        observe: Callable[[str, str, float], None] | None = None,
        access: Policy,
        secrets: Secrets | None = None,
    ) -> None:
        """``observe(tool, outcome, seconds)`` is told of every call (metrics)."""
        self.registry = registry
        self.access = access
        self.secrets = Secrets() if secrets is None else secrets
        """Values tools may be configured with (``[tools.http_headers]``), and that no
        result shows."""
        self.folders = folders
        self.config = config
        self.state_dir = state_dir
        self.runs = runs
        self.kv = KVCache(storage, config.tools.kv_cache_entries)
        self._emit = emit
        self._observe = observe
        tools_cfg = config.tools
        files = tools_cfg.files_dir or "tool-files"
        files = os.path.join(state_dir, os.path.expanduser(files))
        self.files_root = os.path.realpath(files)
        self.work_root = os.path.realpath(os.path.join(state_dir, "work"))
        self._compiled: dict[str, CompiledTool] = {}
        for tool in registry.items():
            self._compiled[tool.name] = compile_tool(tool)
            for problem in self._compiled[tool.name].problems:
                logger.error(
                    "tool %s (plugin %s): %s: %s",
                    tool.name, registry.owner(tool.name), problem.where, problem.message,
                )  # fmt: skip
        self.buckets = {
            name: TokenBucket(rate.rate_per_s, rate.burst) for name, rate in tools_cfg.rates.items()
        }
        self.calls = 0

    async def start(self) -> None:
        """Make the global scope and load the folder tools."""
        os.makedirs(os.path.join(self.files_root, "global"), exist_ok=True)
        await self.reload()

    async def reload(self) -> list[str]:
        """Re-read the tool folders; names that changed."""
        return await self.folders.reload(set(self._compiled))

    # -- looking up ----------------------------------------------------------------

    async def _find(self, name: str) -> CompiledTool:
        compiled = self._compiled.get(name)
        if compiled is not None:
            return compiled
        folder = self.folders.get(name)
        if folder is None:
            raise self._unknown(name)
        if folder.problems or folder.tool is None:
            problems = [f"{p.where}: {p.message}" for p in folder.problems]
            raise ToolFailed(
                f"tool {name!r} is not usable: " + "; ".join(problems),
                {"tool": name, "reason": "not_usable", "problems": problems},
            )
        return await self._compile_folder(folder)

    async def _compile_folder(self, folder: FolderEntry) -> CompiledTool:
        assert folder.tool is not None
        if folder.compiled is None:
            try:
                await folder.tool.resolve_schema()
            except SeqdError as exc:
                raise ToolFailed(
                    f"tool {folder.name!r}: cannot derive its params schema: {exc.message}",
                    {"tool": folder.name, "reason": "not_usable"},
                ) from None
            folder.compiled = compile_tool(folder.tool)
        compiled: CompiledTool = folder.compiled
        return compiled

    def _bucket_info(self, name: str) -> BucketInfo | None:
        bucket = self.buckets.get(name)
        if bucket is None:
            return None
        return msgspec.convert(msgspec.to_builtins(bucket.state()), BucketInfo)

    def _unknown(self, name: str) -> SeqdError:
        names = [*self._compiled, *self.folders.names()]
        return unknown(f"no tool named {name!r}", name, names, {"tool": name})

    def has(self, name: str) -> bool:
        """Whether a tool of that name exists (plugin or folder)."""
        return name in self._compiled or self.folders.get(name) is not None

    def count(self) -> int:
        return len(self._compiled) + len(self.folders.names())

    async def list(self) -> list[ToolInfo]:
        infos = [self._plugin_info(name, c) for name, c in sorted(self._compiled.items())]
        for name in self.folders.names():
            infos.append(await self._folder_info(name))
        return sorted(infos, key=lambda i: i.name)

    async def get(self, name: str) -> ToolInfo:
        if name in self._compiled:
            return self._plugin_info(name, self._compiled[name])
        if self.folders.get(name) is None:
            raise self._unknown(name)
        return await self._folder_info(name)

    def _plugin_info(self, name: str, c: CompiledTool) -> ToolInfo:
        return ToolInfo(
            name=name,
            description=c.tool.description,
            source="plugin",
            plugin=self.registry.owner(name),
            valid=not c.problems,
            problems=c.problems,
            params_schema=c.params_schema,
            result_schema=c.result_schema,
            rate=self._bucket_info(name),
            **self._role_info(name),
        )

    def _role_info(self, name: str) -> dict[str, Any]:
        role = self.access.tool_role(name)
        return {"role": role, "admin_only": role == "admin"}

    async def _folder_info(self, name: str) -> ToolInfo:
        folder = self.folders.get(name)
        assert folder is not None
        compiled = None
        problems = list(folder.problems)
        if folder.tool is not None and not folder.problems:
            try:
                compiled = await self._compile_folder(folder)
                problems.extend(compiled.problems)
            except ToolFailed as exc:
                problems.append(Problem(where="code.py", message=exc.message))
        return ToolInfo(
            name=name,
            description=folder.description,
            source="folder",
            path=folder.dir,
            version=folder.version,
            valid=not problems,
            problems=problems,
            params_schema=compiled.params_schema if compiled else None,
            result_schema=compiled.result_schema if compiled else None,
            rate=self._bucket_info(name),
            **self._role_info(name),
        )

    def rate_states(self) -> dict[str, BucketInfo]:
        return {name: info for name in self.buckets if (info := self._bucket_info(name))}

    # -- calling -------------------------------------------------------------------

    def context(
        self, caller: ToolCaller, log: Callable[[str, str], None] | None = None
    ) -> ToolContext:
        """What ``caller`` may reach (see docs/tools.md, "Scopes")."""
        tools_cfg = self.config.tools
        roots: dict[str, str] = {}
        if caller.kind == "run":
            if caller.run_id is not None:
                roots["run"] = os.path.join(self.work_root, caller.run_id)
            if caller.task is not None:
                roots["task"] = os.path.join(self.files_root, "tasks", caller.task)
            roots["global"] = os.path.join(self.files_root, "global")
            default = "run" if "run" in roots else "global"
            policy = tools_cfg.tasks.get(caller.task or "")
            hosts = tools_cfg.http_allow_hosts
            networks = tools_cfg.http_allow_networks
            if policy is not None and policy.http_allow_hosts is not None:
                hosts = policy.http_allow_hosts
            if policy is not None and policy.http_allow_networks is not None:
                networks = policy.http_allow_networks
        else:
            if tools_cfg.rpc_file_access == "global":
                roots["global"] = os.path.join(self.files_root, "global")
            default = "global"
            hosts = tools_cfg.http_allow_hosts
            networks = tools_cfg.http_allow_networks
        return ToolContext(
            caller=caller,
            roots=roots,
            default_scope=default,
            http_allow_hosts=None if hosts is None else list(hosts),
            kv=self.kv,
            runs=self.runs,
            state_dir=self.state_dir,
            config=self.config,
            log=log if log is not None else _log_to_daemon(caller),
            task_type=self.folders.task_types.get,
            secrets=self.secrets,
            http_allow_networks=list(networks),
        )

    async def call(
        self,
        name: str,
        params: dict[str, Any],
        caller: ToolCaller,
        log: Callable[[str, str], None] | None = None,
    ) -> Any:
        """Validate, rate-limit, run and trace one call; the result as plain JSON
        values. ``log(stream, text)`` receives lines the tool logs (a run's log)."""
        started = time.perf_counter()
        wall = time.time()
        outcome, error = "ok", None
        try:
            if not isinstance(params, dict):
                raise ValidationFailed("params must be an object", {"field": "params"})
            compiled = await self._find(name)
            if compiled.problems:
                problems = [f"{p.where}: {p.message}" for p in compiled.problems]
                raise ToolFailed(
                    f"tool {name!r} is not usable: " + "; ".join(problems),
                    {"tool": name, "reason": "not_usable", "problems": problems},
                )
            self.access.check_tool(caller, name)
            value = validate_params(compiled, params)
            bucket = self.buckets.get(name)
            if bucket is not None:
                wait = bucket.take()
                if wait:
                    raise RateLimited(
                        f"tool {name!r} is over its limit of {bucket.rate:g} calls/s; "
                        f"retry after {wait:.3f}s",
                        {"tool": name, "retry_after": round(wait, 3)},
                    )
            self.calls += 1
            result = await compiled.tool.call(value, self.context(caller, log))
            try:
                return self.secrets.redact_value(msgspec.to_builtins(result))
            except TypeError as exc:
                raise ToolFailed(
                    f"tool {name!r} returned something that is not JSON: {exc}",
                    {"tool": name, "reason": "bad_result"},
                ) from None
        except SeqdError as exc:
            exc.details.setdefault("tool", name)
            outcome, error = exc.type, exc.message
            raise
        except Exception as exc:
            logger.exception("tool %s crashed", name)
            outcome, error = "tool_failed", f"{type(exc).__name__}: {exc}"
            raise ToolFailed(
                f"tool {name!r} crashed: {type(exc).__name__}: {exc}",
                {"tool": name, "reason": "crashed"},
            ) from None
        except BaseException:
            outcome, error = "cancelled", "the call was cancelled"
            raise
        finally:
            elapsed = time.perf_counter() - started
            if self._observe is not None:
                self._observe(name, outcome, elapsed)
            end = timeutil.now()
            traced = caller.trace_id is not None
            self._emit(
                ToolCall(
                    ts=end,
                    tool=name,
                    caller=caller.kind,
                    run_id=caller.run_id,
                    task=caller.task,
                    uid=caller.uid,
                    params=summarize(params, self.secrets.redact),
                    duration_s=round(elapsed, 6),
                    outcome=outcome,
                    error=error,
                    trace_id=caller.trace_id,
                    span_id=caller.span_id,
                    parent_span_id=caller.parent_span_id,
                    start=timeutil.format_ts(wall) if traced else None,
                    end=end if traced else None,
                )
            )
