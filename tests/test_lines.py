"""Splitting a command's output chunks into log lines."""

from __future__ import annotations

from seqd.runtime.lines import LineSplitter


def test_lines_across_chunks_and_final_partial() -> None:
    s = LineSplitter()
    assert s.feed(b"one\ntw") == ["one"]
    assert s.feed(b"o\n\nthree") == ["two", ""]
    assert s.flush() == ["three"]
    assert s.flush() == []


def test_invalid_utf8_is_replaced() -> None:
    assert LineSplitter().feed(b"ok \xff\xfe\n") == ["ok \ufffd\ufffd"]


def test_long_lines_split_on_character_boundaries() -> None:
    s = LineSplitter(max_line=10)
    data = b"abcdefghi" + "€".encode() + b"z" * 25 + b"\nend\n"
    lines: list[str] = []
    for i in range(0, len(data), 4):  # in small chunks, a character cut between two
        lines.extend(s.feed(data[i : i + 4]))
    assert lines[0] == "abcdefghi"
    assert lines[1] == "€" + "z" * 7
    assert "".join(lines[:-1]) == "abcdefghi€" + "z" * 25
    assert all(len(x.encode()) <= 10 for x in lines)
    assert lines[-1] == "end"


def test_partial_line_stays_bounded() -> None:
    s = LineSplitter(max_line=100)
    for _ in range(1000):
        s.feed(b"x" * 99)  # one endless line
        assert len(s._partial) <= 100
    assert all(len(x) <= 100 for x in s.flush())
