"""A minimal seqd plugin: one tool, ``template.greet``.

Each ``@hookimpl`` below is one kind of contribution; a plugin implements only the
hooks it needs (see docs/plugins.md for every hook and interface).
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from seqd import hookimpl
from seqd.errors import ToolFailed
from seqd.plugins.tools import Tool, ToolContext


class GreetParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The params schema: seqd validates calls against it before ``call`` runs, and
    ``seqctl tools show template.greet`` prints it as JSON Schema."""

    name: str
    shout: bool = False


class GreetResult(msgspec.Struct, kw_only=True):
    greeting: str
    caller: str


class Greet:
    name = "template.greet"
    description = "Greets someone (an example tool from contrib/plugin-template)."
    params_schema = GreetParams
    result_schema = GreetResult

    async def call(self, params: GreetParams, ctx: ToolContext) -> GreetResult:
        if not params.name.strip():
            # A typed failure: callers see tool_failed with this reason.
            raise ToolFailed("template.greet: name is blank", {"reason": "blank_name"})
        text = f"Hello, {params.name}!"
        ctx.log("log", f"greeting {params.name}")
        return GreetResult(greeting=text.upper() if params.shout else text, caller=ctx.caller.kind)


@hookimpl
def seqd_register_tools(register: Callable[[Tool], None]) -> None:
    register(Greet())


# A task type would go here:
#
#     @hookimpl
#     def seqd_register_task_types(register):
#         register(MyTaskType())      # see seqd.plugins.tasktype.TaskType; "type": "<its name>"
#
# A storage backend:
#
#     @hookimpl
#     def seqd_register_storage_backends(register):
#         register(MyStorageFactory())  # seqd.plugins.storage.StorageFactory; storage = "<name>";
#                                       # test it with seqd.testing.storage.StorageConformance
#
# A tracer:
#
#     @hookimpl
#     def seqd_register_tracers(register):
#         register(MyTracer())          # seqd.plugins.tracing.Tracer: on_event(event),
#                                       # keep it quick
#
# And lifecycle hooks, seqd_startup(daemon) / seqd_shutdown(daemon), may be async.
