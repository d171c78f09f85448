"""``tools.*``: list, get and call tools (plugin and folder ones) over RPC."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from seqd.plugins.tools import ToolCaller
from seqd.rpc.dispatch import Caller, Handler
from seqd.rpc.params import NoParams
from seqd.rpc.tools import ToolCallParams, ToolCallResult, ToolInfo, ToolListResult, ToolNameParams

if TYPE_CHECKING:
    from seqd.api.context import Daemon


def handlers(app: Daemon) -> dict[str, Handler]:
    async def list_tools(params: NoParams, caller: Caller) -> ToolListResult:
        return ToolListResult(tools=await app.tools.list())

    async def get(params: ToolNameParams, caller: Caller) -> ToolInfo:
        return await app.tools.get(params.name)

    async def call(params: ToolCallParams, caller: Caller) -> ToolCallResult:
        who = ToolCaller(kind="rpc", uid=caller.uid, role=caller.role)
        started = time.perf_counter()
        # Shielded: a client that hangs up must not cut a write or a command in half;
        # the call finishes (within its own timeout) and its answer is dropped.
        result = await asyncio.shield(app.tools.call(params.name, params.params, who))
        return ToolCallResult(
            tool=params.name, result=result, duration_s=round(time.perf_counter() - started, 6)
        )

    return {"tools.list": list_tools, "tools.get": get, "tools.call": call}
