"""What traces need of a backend: a run's trace id and parent span read back as
written (created, replaced, listed, after a reopen), a tree found again through
``parent_id`` and each run's journal entries with the ``started`` times they record.

Its own module because ``runs.trace`` builds every span from these records alone
(``seqd.trace``): nothing else about traces is stored.
"""

from __future__ import annotations

from msgspec.structs import replace

from seqd.model.runs import NewStep, RunQuery
from seqd.model.timeutil import now
from seqd.model.traces import new_trace_id, run_span_id
from seqd.testing.storage.support import BackendMaker, Cases, new_run, opened
from seqd.trace.collect import collect


class TraceCases(Cases):
    """Trace fields on runs, and a whole tree read back as spans."""

    def test_trace_fields_round_trip(self, make_backend: BackendMaker) -> None:
        trace = new_trace_id()
        root = new_run(status="running", trace_id=trace, parent_span_id="00f067aa0ba902b7")
        root = replace(root, root_id=root.id)
        child = new_run(
            parent_id=root.id,
            root_id=root.id,
            trace_id=trace,
            parent_span_id=run_span_id(root.id),
        )

        async def main() -> None:
            async with opened(make_backend) as b:
                await b.create_run(root)
                await b.create_run(child)
                done = replace(root, status="succeeded", finished_at=now())
                assert await b.update_run(done, expect=("running",))
            async with opened(make_backend) as b:
                assert await b.get_run(root.id) == done
                assert await b.get_run(child.id) == child
                (listed,) = (await b.list_runs(RunQuery(parent_id=root.id))).runs
                assert (listed.trace_id, listed.parent_span_id) == (trace, run_span_id(root.id))

        self.run(main())

    def test_a_tree_reads_back_as_spans(self, make_backend: BackendMaker) -> None:
        trace = new_trace_id()
        root = new_run(status="running", trace_id=trace)
        root = replace(root, root_id=root.id)
        child = new_run(status="running", parent_id=root.id, root_id=root.id, trace_id=trace)
        started = now()
        steps = [
            NewStep(ts=now(), kind="step", key="py.1.1", name="fetch", status="succeeded",
                    data={"started": started}),
            NewStep(ts=now(), kind="transition", key="x>", name="x"),
        ]  # fmt: skip

        async def main() -> None:
            async with opened(make_backend) as b:
                await b.create_run(root)
                await b.create_run(child)
                await b.append_steps(root.id, steps)
                found = await collect(b, child)
            assert found.root_id == root.id and found.trace_id == trace
            assert not found.truncated
            names = sorted(s.name for s in found.spans)
            assert names == [f"run {child.task}", f"run {root.task}", "step fetch"]
            (fetch,) = [s for s in found.spans if s.kind == "step"]
            assert fetch.start == started and fetch.parent_span_id == run_span_id(root.id)

        self.run(main())
