"""Reading a run's whole tree back from storage as spans (``runs.trace``).

The tree is walked from its root through ``list_runs(parent_id=...)`` (an index in
every backend) and each run's journal is read in pages: no storage operation exists
for traces alone. A tree is bounded (``MAX_RUNS``, ``MAX_SPANS``): past it the answer
says it is ``truncated`` rather than reading without end.
"""

from __future__ import annotations

from collections import deque

from seqd.model.runs import Run, RunQuery, Step
from seqd.model.traces import Span, trace_of
from seqd.plugins.storage import StorageBackend
from seqd.trace.spans import journal_spans, run_span

MAX_RUNS = 2000
MAX_SPANS = 50_000
PAGE = 1000


class Trace:
    """What ``collect`` found: the trace id, its root run and its spans by start."""

    def __init__(self, trace_id: str, root_id: str, spans: list[Span], truncated: bool) -> None:
        self.trace_id = trace_id
        self.root_id = root_id
        self.spans = spans
        self.truncated = truncated


async def read_journal(
    storage: StorageBackend, run_id: str, limit: int | None = None
) -> list[Step]:
    """The journal of ``run_id``, page by page (at most ``limit`` entries)."""
    steps: list[Step] = []
    while limit is None or len(steps) < limit:
        page = await storage.read_steps(run_id, steps[-1].seq if steps else 0, PAGE)
        steps.extend(page)
        if len(page) < PAGE:
            break
    return steps if limit is None else steps[:limit]


async def children(storage: StorageBackend, run_id: str, limit: int) -> tuple[list[Run], bool]:
    """Up to ``limit`` child runs of ``run_id``, oldest first; whether there were more."""
    found: list[Run] = []
    cursor: str | None = None
    while len(found) <= limit:
        page = await storage.list_runs(RunQuery(parent_id=run_id, limit=PAGE, cursor=cursor))
        found.extend(page.runs)
        cursor = page.next_cursor
        if cursor is None:
            break
    found.reverse()
    return found[:limit], len(found) > limit


async def collect(
    storage: StorageBackend, run: Run, max_runs: int = MAX_RUNS, max_spans: int = MAX_SPANS
) -> Trace:
    """The spans of the tree ``run`` belongs to, from its root down."""
    root = run
    if run.root_id is not None and run.root_id != run.id:
        root = await storage.get_run(run.root_id) or run
    spans: list[Span] = []
    truncated = False
    todo: deque[Run] = deque([root])
    seen = 1
    while todo:
        current = todo.popleft()
        room = max_spans - len(spans) - 1
        if room < 0:
            truncated = True
            break
        steps = await read_journal(storage, current.id, room + 1)
        if len(steps) > room:
            truncated = True
        spans.append(run_span(current))
        spans.extend(journal_spans(current, steps)[:room])
        kids, more = await children(storage, current.id, max_runs - seen)
        truncated = truncated or more
        seen += len(kids)
        todo.extend(kids)
    spans.sort(key=lambda s: s.start)
    return Trace(trace_of(root), root.id, spans, truncated)
