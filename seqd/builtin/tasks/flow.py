"""The ``flow`` task type: a graph of states in ``graph.json``, run by the daemon itself.

A flow run holds no worker (``uses_worker = False``): it only starts child runs, calls
tools and waits, all on the event loop. The graph is decoded and analysed when the task
is loaded (``check``) and again against the other tasks (``check_with``: unknown tasks,
input schemas, flows that run themselves), so an invalid flow is never runnable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from seqd import hookimpl
from seqd.errors import TaskFailed
from seqd.flow.analyze import TaskInfo, analyze, load_graph, referenced_tasks
from seqd.flow.executor import FlowExecution
from seqd.flow.graph import Graph
from seqd.model.tasks import Problem
from seqd.plugins.tasktype import Job, Services, TaskRef, TaskSource, TaskType

GRAPH_FILE = "graph.json"


class FlowTaskType:
    name = "flow"
    options_type: type[msgspec.Struct] | None = None
    defining_files: tuple[str, ...] = (GRAPH_FILE,)
    uses_worker = False

    def __init__(self) -> None:
        self._graphs: dict[str, tuple[str, Graph]] = {}
        """The decoded graph of each flow's current version, by name."""
        self._has_tool: Callable[[str], bool] | None = None

    def _graph(self, source: TaskSource) -> tuple[Graph | None, list[Problem]]:
        cached = self._graphs.get(source.name)
        if cached is not None and cached[0] == source.version:
            return cached[1], []
        text = source.files.get(GRAPH_FILE)
        if text is None:
            return None, [Problem(where=GRAPH_FILE, message="missing: a flow needs its graph")]
        graph, problems = load_graph(text)
        if graph is not None and not problems:
            self._graphs[source.name] = (source.version, graph)
        return graph, problems

    def check(self, source: TaskSource) -> list[Problem]:
        graph, problems = self._analysable(source)
        if graph is None:
            return problems
        return problems + analyze(graph, flow_name=source.name)

    def _analysable(self, source: TaskSource) -> tuple[Graph | None, list[Problem]]:
        """The graph to analyse even when some states do not decode (they stand in as
        ``Undecoded``), so that one check tells every problem; never the one to run."""
        graph, problems = self._graph(source)
        if graph is not None or GRAPH_FILE not in source.files:
            return graph, problems
        return load_graph(source.files[GRAPH_FILE], partial=True)

    def check_with(
        self, source: TaskSource, lookup: Callable[[str], TaskRef | None]
    ) -> list[Problem]:
        graph, problems = self._analysable(source)
        if graph is None:
            return problems
        return problems + analyze(
            graph,
            flow_name=source.name,
            lookup_task=lambda name: self._info(lookup, name),
            has_tool=self._has_tool,
        )

    def _info(self, lookup: Callable[[str], TaskRef | None], name: str) -> TaskInfo | None:
        ref = lookup(name)
        if ref is None:
            return None
        return TaskInfo(
            type=ref.type,
            valid=ref.valid,
            inputs=ref.inputs,
            flow_refs=frozenset(self._flow_refs(lookup, name)),
            problems=ref.problems,
        )

    def _flow_refs(self, lookup: Callable[[str], TaskRef | None], name: str) -> set[str]:
        """Every task a flow reaches through nested flows (to find flows that run
        themselves), walked iteratively with a visited set."""
        seen: set[str] = set()
        todo = [name]
        while todo:
            ref = lookup(todo.pop())
            if ref is None or ref.type != self.name or ref.source is None:
                continue
            graph, problems = self._graph(ref.source)
            if graph is None or problems:
                continue
            for child in referenced_tasks(graph):
                if child not in seen:
                    seen.add(child)
                    todo.append(child)
        return seen

    async def start(self, services: Services) -> None:
        self._has_tool = services.has_tool

    async def stop(self, grace_s: float) -> None:
        self._graphs.clear()

    async def input_schema(self, source: TaskSource) -> dict[str, Any] | None:
        return None

    async def execute(self, job: Job) -> Any:
        graph, problems = self._graph(job.task)
        if graph is None or problems:
            detail = "; ".join(f"{p.where}: {p.message}" for p in problems)
            raise TaskFailed("not_runnable", f"the flow's graph is invalid: {detail}")
        return await FlowExecution(job, graph, await job.journal()).run()

    def stats(self) -> dict[str, int]:
        return {}


@hookimpl
def seqd_register_task_types(register: Callable[[TaskType], None]) -> None:
    register(FlowTaskType())
