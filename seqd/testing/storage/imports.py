"""``import_run``: a run with its log and journal, whole or not at all.

Its own module because it is the one write that spans a run, its log and its journal
(``seqd import`` relies on it: an import run again after it was cut short must never
find a run without its logs), and it refuses, writing nothing, a run whose id or key
is taken.
"""

from __future__ import annotations

import pytest

from seqd.model.runs import NewLogLine, NewStep
from seqd.testing.storage.support import BackendMaker, Cases, lines, new_run, new_step, opened


class _Unencodable:
    """A journal value no store can encode: a write that fails half-way, after the run
    and its log (the journal goes last on every backend)."""


def _log(n: int) -> list[NewLogLine]:
    return lines(*(f"line {i}" for i in range(n)))


def _steps(n: int) -> list[NewStep]:
    return [new_step("state", f"s{i}", data={"i": i}) for i in range(n)]


class ImportCases(Cases):
    """``import_run``."""

    def test_import_run_writes_the_run_its_log_and_journal(
        self, make_backend: BackendMaker
    ) -> None:
        run = new_run(task="imported", status="succeeded", output={"ok": True})

        async def main() -> None:
            async with opened(make_backend) as b:
                before = await b.last_change()
                assert await b.import_run(run, _log(2500), _steps(3)) is True
                assert await b.last_change() > before  # a write like any other
            async with opened(make_backend) as b:  # and after a reopen
                assert await b.get_run(run.id) == run
                got = await b.read_logs(run.id, 0, 3000)
                assert [(g.seq, g.text) for g in got] == [(i + 1, f"line {i}") for i in range(2500)]
                steps = await b.read_steps(run.id, 0, 10)
                assert [(s.seq, s.key, s.data) for s in steps] == [
                    (i + 1, f"s{i}", {"i": i}) for i in range(3)
                ]
                assert await b.import_run(new_run(), [], []) is True  # nothing but the run

        self.run(main())

    def test_a_failure_half_way_leaves_nothing(self, make_backend: BackendMaker) -> None:
        run = new_run(task="imported")
        bad = [*_steps(2), new_step("state", "x", data={"v": _Unencodable()})]

        async def main() -> None:
            async with opened(make_backend) as b:
                with pytest.raises(TypeError):
                    await b.import_run(run, _log(1500), bad)
                assert await b.get_run(run.id) is None
                assert sum((await b.count_by_status()).values()) == 0
                # the same run again, whole: as if that first try never happened
                assert await b.import_run(run, _log(3), _steps(1)) is True
                assert [g.text for g in await b.read_logs(run.id, 0, 10)] == [
                    "line 0",
                    "line 1",
                    "line 2",
                ]
                assert [s.key for s in await b.read_steps(run.id, 0, 10)] == ["s0"]

        self.run(main())

    def test_a_taken_id_or_key_writes_nothing(self, make_backend: BackendMaker) -> None:
        keyed = new_run(task="imported", idempotency_key="import-key")
        same_key = new_run(task="imported", idempotency_key="import-key")

        async def main() -> None:
            async with opened(make_backend) as b:
                assert await b.import_run(keyed, _log(2), _steps(1)) is True
                assert await b.import_run(keyed, _log(5), _steps(5)) is False
                assert await b.last_log_seq(keyed.id) == 2
                assert await b.last_step_seq(keyed.id) == 1
                assert await b.import_run(same_key, _log(2), []) is False
                assert await b.get_run(same_key.id) is None
                assert await b.read_logs(same_key.id, 0, 10) == []
                created = new_run(task="imported")
                assert (await b.create_run(created))[1]
                assert await b.import_run(created, _log(1), []) is False
                assert await b.last_log_seq(created.id) == 0

        self.run(main())
