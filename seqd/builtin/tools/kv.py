"""The built-in ``kv.*`` tools: persistent key-value state in the store (the original
system's state manager), behind the daemon's LRU cache (``seqd.storage.kvcache``).

Namespaces: ``scope: "task"`` (a run's default) is ``task/<task>``, private to the
task's runs; ``scope: "global"`` (the default over RPC) is shared by everyone. An RPC
caller may also address one task's state with ``task`` (to inspect or seed it). Values
are any JSON value; a stored ``null`` is found (``found: true``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from seqd import hookimpl
from seqd.errors import PermissionDenied, ValidationFailed
from seqd.model.runs import KVEntry
from seqd.model.tasks import TASK_NAME_PATTERN
from seqd.plugins.storage import MAX_KV_KEY
from seqd.plugins.tools import Tool, ToolContext

Key = Annotated[str, Meta(min_length=1, max_length=MAX_KV_KEY)]


class _P(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    scope: Literal["task", "global"] | None = None
    """Default: ``task`` for a run, ``global`` over RPC."""
    task: Annotated[str, Meta(pattern=TASK_NAME_PATTERN)] | None = None
    """RPC callers only: the task whose namespace to use (implies ``scope: "task"``)."""


class GetParams(_P, kw_only=True):
    key: Key


class GetResult(msgspec.Struct, kw_only=True):
    key: str
    found: bool
    value: Any = None
    updated_at: str | None = None


class SetParams(_P, kw_only=True):
    key: Key
    value: Any


class SetResult(msgspec.Struct, kw_only=True):
    key: str
    updated_at: str


class DeleteParams(_P, kw_only=True):
    key: Key


class DeleteResult(msgspec.Struct, kw_only=True):
    key: str
    deleted: bool


class ListParams(_P, kw_only=True):
    prefix: Annotated[str, Meta(max_length=MAX_KV_KEY)] = ""
    after: Annotated[str, Meta(max_length=MAX_KV_KEY)] | None = None
    """The last key of the previous page."""
    limit: Annotated[int, Meta(ge=1, le=1000)] = 100


class ListResult(msgspec.Struct, kw_only=True):
    entries: list[KVEntry]
    next: str | None
    """Pass as ``after`` for the next page; null on the last page."""


def namespace(params: _P, ctx: ToolContext) -> str:
    caller = ctx.caller
    if params.task is not None:
        if caller.kind == "run" and params.task != caller.task:
            raise PermissionDenied(
                "kv: a run may only use its own task's namespace or the global one",
                {"field": "params.task"},
            )
        return f"task/{params.task}"
    scope = params.scope or ("task" if caller.kind == "run" else "global")
    if scope == "global":
        return "global"
    if caller.task is None:
        raise ValidationFailed(
            'kv: scope "task" over RPC needs "task" (which task\'s state)',
            {"field": "params.task"},
        )
    return f"task/{caller.task}"


class KVGet:
    name = "kv.get"
    description = "Read one key of the persistent key-value state."
    params_schema = GetParams
    result_schema = GetResult

    async def call(self, params: GetParams, ctx: ToolContext) -> GetResult:
        entry = await ctx.kv.get(namespace(params, ctx), params.key)
        if entry is None:
            return GetResult(key=params.key, found=False)
        return GetResult(key=params.key, found=True, value=entry.value,
                         updated_at=entry.updated_at)  # fmt: skip


class KVSet:
    name = "kv.set"
    description = "Store a JSON value under a key (durable before it answers)."
    params_schema = SetParams
    result_schema = SetResult

    async def call(self, params: SetParams, ctx: ToolContext) -> SetResult:
        limit = ctx.config.limits.max_input_bytes
        size = len(msgspec.json.encode(params.value))
        if size > limit:
            raise ValidationFailed(
                f"kv.set: value is {size} bytes encoded; the limit is {limit}",
                {"field": "params.value", "limit": limit},
            )
        entry = await ctx.kv.set(namespace(params, ctx), params.key, params.value)
        return SetResult(key=params.key, updated_at=entry.updated_at)


class KVDelete:
    name = "kv.delete"
    description = "Remove a key of the persistent key-value state."
    params_schema = DeleteParams
    result_schema = DeleteResult

    async def call(self, params: DeleteParams, ctx: ToolContext) -> DeleteResult:
        deleted = await ctx.kv.delete(namespace(params, ctx), params.key)
        return DeleteResult(key=params.key, deleted=deleted)


class KVList:
    name = "kv.list"
    description = "List keys (with values) by prefix, in key order, a page at a time."
    params_schema = ListParams
    result_schema = ListResult

    async def call(self, params: ListParams, ctx: ToolContext) -> ListResult:
        entries = await ctx.kv.list(
            namespace(params, ctx), params.prefix, params.after, params.limit + 1
        )
        more = len(entries) > params.limit
        entries = entries[: params.limit]
        return ListResult(entries=entries, next=entries[-1].key if more else None)


@hookimpl
def seqd_register_tools(register: Callable[[Tool], None]) -> None:
    for tool in (KVGet(), KVSet(), KVDelete(), KVList()):
        register(tool)
