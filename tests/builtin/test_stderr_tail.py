"""The last stderr lines of a command, kept for its error: bounded in lines and size,
and every line still passed on to the run's log."""

from __future__ import annotations

from seqd.builtin.tasks.stderr_tail import LINE_CHARS, LINES, StderrTail


class Sink:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self.log_full = False

    def log(self, stream: str, text: str) -> None:
        self.lines.append((stream, text))

    async def wait_logged(self, backlog_bytes: int = 1 << 20) -> None:
        return None


def test_keeps_the_last_stderr_lines_bounded_and_passes_all_on() -> None:
    sink = Sink()
    tail = StderrTail(sink)  # type: ignore[arg-type]
    assert tail.details() == {}
    tail.log("stdout", "not kept\n")
    for i in range(25):
        tail.log("stderr", f"err {i}\n")
    tail.log("stderr", "x" * (LINE_CHARS * 3))
    assert len(sink.lines) == 27  # every line went to the log
    kept = tail.details()["stderr_tail"]
    assert len(kept) == LINES
    assert kept[:-1] == [f"err {i}" for i in range(16, 25)]
    assert len(kept[-1]) == LINE_CHARS and kept[-1].endswith("…")
    sink.log_full = True
    assert tail.log_full
