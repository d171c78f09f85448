"""The MCP server: the SDK's low-level ``Server`` over stdio, its handlers calling the
catalog (tools) and resources, and every failure turned into an answer an agent can
read.

The low-level server, not the SDK's decorator one (``MCPServer``): the tools are not
Python functions known in advance but the tasks and tools the daemon has now, each
with the input schema the daemon gives. A refusal — by ``[mcp]``, by the daemon (its
message and stable ``type``), or bad arguments (the field named) — is a tool result
with ``isError`` and ``structuredContent.error`` = ``{type, message, details}``; a
resource that cannot be read is an MCP error with the same ``data``. Nothing of a
traceback reaches the agent.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import msgspec
from mcp import types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError

from seqd.client import AsyncClient, ClientError, DaemonUnreachable, RpcError
from seqd.model.runs import Run
from seqd.model.status import TERMINAL
from seqd.rpc.params import validation_details
from seqd_mcp import __version__, catalog, resources
from seqd_mcp.gateway import Gateway, Refused, plain
from seqd_mcp.settings import Exposure, McpSettings

INSTRUCTIONS = """\
seqd runs tasks (python functions, shell commands, flows) durably on this machine.
list_tasks shows what you may see; describe_task gives a task's input schema. Tasks you
may run are tools named run.<task>, or use run_task (wait or detach). Follow a run with
get_run, wait_run and get_logs (or the resources seqd://runs/{id} and
seqd://runs/{id}/logs); cancel_run stops it. Errors carry the daemon's type
(not_found, validation, not_exposed, permission_denied, rate_limited...)."""
CALL_TIMEOUT_S = 30.0
"""How long one daemon call may take beyond the wait it asks for."""
_PARAMS_ERRORS = frozenset({"not_found", "not_exposed", "validation", "invalid_params"})
"""Types of errors that mean "no such resource for you": MCP's invalid params."""
SEQD_ERROR = -32010
"""The MCP error code of a resource read the daemon refused for another reason."""


def refusal(exc: Exception) -> Refused | None:
    """A failure an agent should read, as a ``Refused`` (type, message, details); None
    for anything else — a bug, left to the SDK (logged, "Internal server error")."""
    if isinstance(exc, Refused):
        return exc
    if isinstance(exc, RpcError):
        return Refused(exc.type, exc.message, exc.details)
    if isinstance(exc, msgspec.ValidationError):  # the fixed tools' arguments
        return Refused("validation", *validation_details(exc))
    if isinstance(exc, DaemonUnreachable):
        return Refused("unreachable", str(exc), {"socket": exc.socket_path})
    if isinstance(exc, ClientError):
        return Refused("protocol", str(exc))
    return None


def tool_error(refused: Refused) -> types.CallToolResult:
    error = {"type": refused.type, "message": refused.message, "details": refused.details}
    return types.CallToolResult(
        content=[types.TextContent(text=f"error: {refused.message} ({refused.type})")],
        structured_content={"error": error},
        is_error=True,
    )


def tool_result(answer: msgspec.Struct) -> types.CallToolResult:
    """An answer as JSON text (what a model reads) and as structured content; a run
    that has not ended says so in words too."""
    value = plain(answer)
    text = json.dumps(value, indent=1)
    if isinstance(answer, Run) and answer.status not in TERMINAL:
        text += (
            f"\nrun {answer.id} is {answer.status}, not finished: follow it with wait_run, "
            "get_run or get_logs, or stop it with cancel_run"
        )
    return types.CallToolResult(content=[types.TextContent(text=text)], structured_content=value)


def build(gateway: Gateway) -> Server[Any]:
    """The server, its handlers bound to ``gateway``."""

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=await catalog.definitions(gateway))

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        try:
            return tool_result(await catalog.call(gateway, params.name, params.arguments))
        except catalog.NoSuchTool:
            raise MCPError(types.INVALID_PARAMS, f"no tool named {params.name!r}") from None
        except Exception as exc:
            refused = refusal(exc)
            if refused is None:
                raise
            return tool_error(refused)

    async def list_resources(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        try:
            found = await resources.listed(gateway)
        except ClientError:
            found = []  # the daemon is away: nothing to offer now, the templates still work
        return types.ListResourcesResult(resources=found)

    async def list_templates(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(resource_templates=resources.TEMPLATES)

    async def read_resource(
        ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        try:
            text, mime = await resources.read(gateway, params.uri)
        except Exception as exc:
            refused = refusal(exc)
            if refused is None:
                raise
            code = types.INVALID_PARAMS if refused.type in _PARAMS_ERRORS else SEQD_ERROR
            data = {"type": refused.type, "details": refused.details}
            raise MCPError(code, f"{refused.message} ({refused.type})", data) from None
        contents = types.TextResourceContents(uri=params.uri, text=text, mime_type=mime)
        return types.ReadResourceResult(contents=[contents])

    return Server(
        "seqd",
        version=__version__,
        title="seqd",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
    )


async def _serve(socket: str | None, settings: McpSettings) -> None:
    async with AsyncClient(socket, timeout=CALL_TIMEOUT_S) as client:
        server = build(Gateway(client, Exposure(settings)))
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())


def serve(socket: str | None, settings: McpSettings) -> None:
    """Serve MCP on stdin/stdout until the client closes stdin."""
    anyio.run(_serve, socket, settings)
