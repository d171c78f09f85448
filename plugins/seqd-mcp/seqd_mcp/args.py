"""The arguments of the MCP tools seqd-mcp always offers, as strict Structs.

One Struct per tool: msgspec checks what an agent sends (a wrong type, a missing or
unknown field, a value out of range is an error naming the field, before the daemon
is asked), and the same Struct is the tool's ``inputSchema`` (:func:`input_schema`).
Field types come from the daemon's own wire types (``seqd.rpc``), so a name or run
reference is checked by the same rules the daemon applies.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from seqd.model.runs import RunStatus
from seqd.rpc.params import RunRef, TaskName
from seqd.rpc.runs import SignalName
from seqd.rpc.tools import ToolName

Seconds = Annotated[float, Meta(ge=0, description="seconds")]
Reason = Annotated[str, Meta(max_length=1000)]
Cursor = Annotated[str, Meta(max_length=256)]


class Args(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base: strict, so that a misspelt argument is an error, not ignored."""


class NoArgs(Args):
    pass


class DescribeTask(Args):
    name: TaskName


class RunTask(Args):
    task: TaskName
    input: dict[str, Any] = {}
    """The task's input: an object its input schema accepts (``describe_task``)."""
    wait: bool = True
    """Wait for the run to end (at most ``timeout_s``); false: answer at once (detach)."""
    timeout_s: Seconds | None = None
    """How long to wait (default: the server's ``wait_s``)."""


class RunArgs(Args):
    id: RunRef


class WaitRun(Args):
    id: RunRef
    timeout_s: Seconds | None = None


class ListRuns(Args):
    task: TaskName | None = None
    status: RunStatus | None = None
    limit: Annotated[int, Meta(ge=1, le=200)] = 20
    cursor: Cursor | None = None
    """``next_cursor`` of the previous page."""


class GetLogs(Args):
    id: RunRef
    after: Annotated[int, Meta(ge=0)] = 0
    """Only lines after this sequence number (``next`` of the previous page)."""
    limit: Annotated[int, Meta(ge=1, le=1000)] = 200


class CancelRun(Args):
    id: RunRef
    reason: Reason | None = None


class SignalRun(Args):
    id: RunRef
    name: SignalName
    data: Any = None
    """Any JSON value: what the run's ``ctx.wait_signal`` returns."""


class CallTool(Args):
    name: ToolName
    params: dict[str, Any] = {}


class ListSchedules(Args):
    task: TaskName | None = None
    limit: Annotated[int, Meta(ge=1, le=200)] = 50


def decode(arguments: dict[str, Any] | None, type_: type[msgspec.Struct]) -> Any:
    """``arguments`` as ``type_``; ``msgspec.ValidationError`` names the field."""
    return msgspec.convert(arguments or {}, type_)


def input_schema(type_: type[msgspec.Struct]) -> dict[str, Any]:
    """The JSON Schema of ``type_`` with the object itself at the root, as MCP wants
    (msgspec puts every Struct under ``$defs`` and refers to it)."""
    (_,), components = msgspec.json.schema_components([type_], ref_template="#/$defs/{name}")
    root = dict(components.pop(type_.__name__))
    root.pop("title", None)
    if components:
        root["$defs"] = components
    return root


def object_schema(schema: dict[str, Any] | None) -> dict[str, Any]:
    """A task's input schema or a tool's parameter schema as a tool's ``inputSchema``:
    MCP wants an object at the root; without one (no schema, or a schema of another
    shape), any object is offered and the daemon checks it."""
    if isinstance(schema, dict) and schema.get("type") == "object":
        return schema
    return {"type": "object", "additionalProperties": True}
