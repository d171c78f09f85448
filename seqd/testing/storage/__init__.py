"""The storage conformance suite: what every ``StorageBackend`` must do.

A backend plugin reuses it by subclassing ``StorageConformance`` in a test module and
providing a ``make_backend`` fixture: a function that returns a new, *unopened* backend
on the same store each time it is called (the suite opens and closes them itself, and
calls it twice to check that data survives a close and a reopen)::

    import pytest
    from seqd.plugins.storage import StorageContext
    from seqd.testing.storage import BackendMaker, StorageConformance, StoreSpec

    class TestMyBackend(StorageConformance):
        @pytest.fixture
        def make_backend(self, tmp_path) -> BackendMaker:
            context = StorageContext(state_dir=str(tmp_path), durability="normal")
            return lambda: MyFactory().create({}, context)

        @pytest.fixture
        def store_spec(self, tmp_path) -> StoreSpec:
            # the same store, for a child process that is SIGKILLed mid-write
            return StoreSpec(name="mine", options={}, state_dir=str(tmp_path))

Tests are plain functions that drive coroutines on a fresh uvloop loop, each bounded by
``timeout_s`` so a hang fails instead of stalling the run.

One module per concern: ``claims``, ``runs``, ``scopes``, ``batches``, ``listing``,
``finding``, ``logs``, ``steps``, ``kv``, ``changes``, ``alerts``, ``schedules``,
``pruning``, ``traces``, ``durability`` and ``crash`` (with its child process,
``crash_writer``) hold the cases, ``suite`` gathers them, and ``support`` has the
helpers they share, which a backend's own tests may use too.
"""

from seqd.testing.storage.suite import StorageConformance
from seqd.testing.storage.support import (
    BackendMaker,
    StoreSpec,
    all_pages,
    changed,
    lines,
    new_run,
    new_step,
    opened,
    run_async,
)

__all__ = [
    "BackendMaker",
    "StorageConformance",
    "StoreSpec",
    "all_pages",
    "changed",
    "lines",
    "new_run",
    "new_step",
    "opened",
    "run_async",
]
