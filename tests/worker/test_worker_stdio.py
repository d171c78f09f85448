"""The replacement stdout/stderr: lines out in order, partial lines kept until asked."""

from __future__ import annotations

import pytest

from seqd.runtime.worker.context import TaskCancelled
from seqd.runtime.worker.stdio import MAX_LINE_CHARS, LogWriter


def make() -> tuple[LogWriter, list[tuple[str, str]]]:
    sent: list[tuple[str, str]] = []
    return LogWriter(lambda s, t: sent.append((s, t)), "stdout", 1), sent


def test_complete_lines_go_out_partial_ones_wait() -> None:
    w, sent = make()
    assert w.write("a\nb") == 3
    assert sent == [("stdout", "a")]
    w.flush()
    assert sent == [("stdout", "a")]
    w.write("c\n\nd")
    assert sent == [("stdout", "a"), ("stdout", "bc"), ("stdout", "")]
    w.flush_partial()
    assert sent[-1] == ("stdout", "d")
    w.flush_partial()
    assert len(sent) == 4


def test_print_works_and_stream_looks_like_a_text_file() -> None:
    w, sent = make()
    print("x", 1, sep="-", file=w)
    assert sent == [("stdout", "x-1")]
    assert w.fileno() == 1
    assert w.encoding == "utf-8"
    assert w.writable() and not w.isatty()
    w.close()
    print("still open", file=w)
    assert sent[-1] == ("stdout", "still open")
    with pytest.raises(TypeError):
        w.write(b"bytes")  # type: ignore[arg-type]


def test_bytes_through_buffer_are_decoded_across_chunks() -> None:
    w, sent = make()
    data = "é\n".encode()
    w.buffer.write(data[:1])
    w.buffer.write(data[1:])
    assert sent == [("stdout", "é")]
    assert w.buffer.fileno() == 1


def test_very_long_lines_are_split() -> None:
    w, sent = make()
    w.write("x" * (MAX_LINE_CHARS * 2 + 5))
    assert [len(t) for _, t in sent] == [MAX_LINE_CHARS, MAX_LINE_CHARS]
    w.flush_partial()
    assert len(sent[-1][1]) == 5


def test_lines_not_sent_before_a_cancel_are_kept() -> None:
    sent: list[str] = []

    def send(stream: str, text: str) -> None:
        sent.append(text)
        if text == "two":
            raise TaskCancelled

    w = LogWriter(send, "stdout", 1)
    with pytest.raises(TaskCancelled):
        w.write("one\ntwo\nthree\nfour\npart")
    assert sent == ["one", "two"]
    w.flush_partial()
    assert sent[-1] == "three\nfour\npart"
