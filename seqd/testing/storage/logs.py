"""Run logs: numbering, reading after a seq, and concurrent appenders.

Its own module because a log is numbered by the store, not by its writers: each append
continues after the run's last line, and concurrent appends to one run never share or
skip a number.
"""

from __future__ import annotations

import asyncio

from seqd.testing.storage.support import BackendMaker, Cases, lines, new_run, opened


class LogCases(Cases):
    """``append_logs`` and ``read_logs``."""

    def test_logs_append_and_read(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                run, other = new_run(), new_run()
                first = lines("one", "deux", "три")
                assert await b.append_logs(run.id, first) == 3
                second = lines("x" * 100_000, "🚀 end", stream="stderr")
                assert await b.append_logs(run.id, second) == 5
                assert await b.append_logs(other.id, lines("other")) == 1
                got = await b.read_logs(run.id, 0, 100)
                assert [line.seq for line in got] == [1, 2, 3, 4, 5]
                sent = first + second
                assert [(g.ts, g.stream, g.text) for g in got] == [
                    (s.ts, s.stream, s.text) for s in sent
                ]
                assert [line.seq for line in await b.read_logs(run.id, 2, 2)] == [3, 4]
                assert [line.seq for line in await b.read_logs(run.id, 4, 100)] == [5]
                assert await b.read_logs(run.id, 5, 100) == []
                assert await b.read_logs("0" * 24, 0, 100) == []
                other_lines = await b.read_logs(other.id, 0, 10)
                assert [(g.seq, g.text) for g in other_lines] == [(1, "other")]

        self.run(main())

    def test_concurrent_log_appenders(self, make_backend: BackendMaker) -> None:
        appenders, batches, size = 4, 15, 3

        async def main() -> None:
            async with opened(make_backend) as b:
                runs = [new_run() for _ in range(8)]

                async def append(run_id: str, who: int) -> list[tuple[int, list[str]]]:
                    done: list[tuple[int, list[str]]] = []
                    for i in range(batches):
                        texts = [f"{who}:{i}:{j}" for j in range(size)]
                        done.append((await b.append_logs(run_id, lines(*texts)), texts))
                    return done

                work = [(r.id, w) for r in runs for w in range(appenders)]
                results = await asyncio.gather(*(append(rid, w) for rid, w in work))
                for run in runs:
                    got = await b.read_logs(run.id, 0, 10_000)
                    total = appenders * batches * size
                    assert [line.seq for line in got] == list(range(1, total + 1))
                    by_seq = {line.seq: line.text for line in got}
                    for (rid, _), done in zip(work, results, strict=True):
                        if rid != run.id:
                            continue
                        for last, texts in done:  # each batch is contiguous, ending at last
                            seqs = range(last - size + 1, last + 1)
                            assert [by_seq[s] for s in seqs] == texts

        self.run(main())
