"""Control-channel frames: round trips, and what counts as a protocol error."""

from __future__ import annotations

import pytest

from seqd.runtime.workerpool import messages as m


def body(data: bytes) -> bytes:
    assert m.frame_length(data[: m.HEADER.size]) == len(data) - m.HEADER.size
    return data[m.HEADER.size :]


@pytest.mark.parametrize(
    "frame",
    [
        m.Hello(pid=12),
        m.Log(stream="stdout", text="héllo"),
        m.Call(id=1, op="step", args={"name": "a", "n": [1, 2]}),
        m.Result(ok=False, error=m.ErrorInfo(type="exception", message="x", details={"a": 1})),
        m.SchemaResult(ok=True, schema=b'{"type":"object"}'),
    ],
)
def test_worker_frames_round_trip(frame: m.Frame) -> None:
    assert m.decode_to_daemon(body(m.pack(frame))) == frame


@pytest.mark.parametrize(
    "frame",
    [
        m.Execute(
            run_id="r",
            task="t",
            attempt=1,
            task_dir="/t",
            work_dir="/w",
            filename="/t/code.py",
            code="def run(ctx): pass",
            entry="run",
            input=b'{"big": 123456789012345678901234567890}',
            from_signature=True,
            max_output_bytes=10,
        ),
        m.SchemaRequest(task="t", filename="/t/code.py", code="", entry="run"),
        m.Reply(id=3, ok=True, value=[1, "a"]),
    ],
)
def test_daemon_frames_round_trip(frame: m.Frame) -> None:
    assert m.decode_to_worker(body(m.pack(frame))) == frame


def test_direction_is_enforced() -> None:
    with pytest.raises(m.ProtocolError):
        m.decode_to_worker(body(m.pack(m.Hello(pid=1))))
    with pytest.raises(m.ProtocolError):
        m.decode_to_daemon(body(m.pack(m.Reply(id=1, ok=True))))


def test_garbage_and_oversized_frames() -> None:
    with pytest.raises(m.ProtocolError):
        m.decode_to_daemon(b"\xc1garbage")
    with pytest.raises(m.ProtocolError):
        m.frame_length(m.HEADER.pack(m.MAX_FRAME_BYTES + 1))
