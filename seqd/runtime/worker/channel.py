"""The worker's blocking end of the control channel, and the SIGTERM guard.

A cancel arrives as SIGTERM and is turned into ``TaskCancelled`` raised in the task's
main thread. The guard defers that while the main thread is writing a frame, so a
cancel never leaves half a frame on the channel. Its own module: the only code in the
worker that touches the socket.
"""

from __future__ import annotations

import os
import socket
import threading
from types import FrameType
from typing import Any

from seqd.runtime.worker.context import CallError, TaskCancelled
from seqd.runtime.workerpool.messages import (
    HEADER,
    Call,
    Frame,
    Log,
    Metric,
    Reply,
    ToWorker,
    decode_to_worker,
    frame_length,
    pack,
)


class CancelGuard:
    """Decides what a SIGTERM does: exit when idle, raise ``TaskCancelled`` once in a
    running task, or wait until the frame being written is complete."""

    def __init__(self) -> None:
        self.running = False
        self.sending = False
        self.pending = False
        self.raised = False

    def start_run(self) -> None:
        self.running, self.pending, self.raised = True, False, False

    def end_run(self) -> None:
        self.running = False

    def on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        if not self.running:
            os._exit(0)
        if self.raised:
            return
        if self.sending:
            self.pending = True
            return
        self.raised = True
        raise TaskCancelled("the run was cancelled")

    def after_send(self) -> None:
        if self.pending and self.running and not self.raised:
            self.pending = False
            self.raised = True
            raise TaskCancelled("the run was cancelled")


class Channel:
    """Length-prefixed msgpack frames over the inherited socket; safe to send from any
    thread, received only by whoever holds the call lock (the main loop or ``call``)."""

    def __init__(self, fd: int, guard: CancelGuard) -> None:
        self._sock = socket.socket(fileno=fd)
        self._sock.setblocking(True)
        self._guard = guard
        self._send_lock = threading.Lock()
        self._main = threading.main_thread().ident
        self._call_lock = threading.Lock()
        self._next_id = 0

    def send(self, frame: Frame) -> None:
        data = pack(frame)
        on_main = threading.get_ident() == self._main
        if on_main:
            self._guard.sending = True
        try:
            with self._send_lock:
                self._sock.sendall(data)
        finally:
            if on_main:
                self._guard.sending = False
        if on_main:
            self._guard.after_send()

    def recv(self) -> ToWorker | None:
        """The next frame, or None once the daemon closed the channel."""
        header = self._read_exact(HEADER.size)
        if header is None:
            return None
        body = self._read_exact(frame_length(header))
        if body is None:
            return None
        return decode_to_worker(body)

    def _read_exact(self, n: int) -> bytearray | None:
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            k = self._sock.recv_into(view[got:])
            if k == 0:
                return None
            got += k
        return buf

    # -- the Link used by Context and the stdio writers -----------------------------

    def log(self, stream: str, text: str) -> None:
        self.send(Log(stream=stream, text=text))

    def metric(self, name: str, value: float, kind: str, labels: dict[str, str]) -> None:
        self.send(Metric(name=name, value=value, kind=kind, labels=labels))

    def call(self, op: str, args: Any) -> Any:
        with self._call_lock:
            self._next_id += 1
            call_id = self._next_id
            self.send(Call(id=call_id, op=op, args=args))
            while True:
                frame = self.recv()
                if frame is None:
                    raise CallError("unavailable", "the daemon closed the channel")
                if isinstance(frame, Reply) and frame.id == call_id:
                    break
                # Anything else is stale (a reply to an abandoned call): skip it.
        if frame.ok:
            return frame.value
        error = frame.error
        if error is None:
            raise CallError("internal", f"{op} failed")
        raise CallError(error.type, error.message, error.details)
