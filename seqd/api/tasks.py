"""``tasks.*``: the catalog, read-only for now."""

from __future__ import annotations

from typing import TYPE_CHECKING

from seqd.model.tasks import TaskDef
from seqd.rpc.dispatch import Caller, Handler
from seqd.rpc.status import TaskListParams, TaskListResult, TaskNameParams, ValidateResult

if TYPE_CHECKING:
    from seqd.api.context import Daemon


def handlers(app: Daemon) -> dict[str, Handler]:
    catalog = app.catalog

    def list_tasks(params: TaskListParams, caller: Caller) -> TaskListResult:
        return TaskListResult(tasks=catalog.summaries(params.tag))

    async def get(params: TaskNameParams, caller: Caller) -> TaskDef:
        entry = await catalog.resolved(catalog.get(params.name))
        return entry.definition

    async def validate(params: TaskNameParams, caller: Caller) -> ValidateResult:
        problems = await catalog.validate(params.name)
        entry = catalog.get(params.name)
        return ValidateResult(
            ok=entry.runnable and not problems,
            problems=problems,
            warnings=catalog.warnings(params.name),
        )

    return {"tasks.list": list_tasks, "tasks.get": get, "tasks.validate": validate}
