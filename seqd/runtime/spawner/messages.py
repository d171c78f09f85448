"""The channel between the daemon and its spawner process: its frames, its frame size
limit, and ``CommandSpec`` (what a ``Start`` frame asks for).

Its own module because both ends import it (the framing itself is
``seqd.runtime.frames``, shared with the python workers' channel). Only msgspec and
the standard library are imported, since the spawner imports this at start-up.

A command's life is ``Start`` → ``Started`` (or ``StartFailed``) → any number of
``Output`` → ``Exited``, all carrying the daemon's request ``id``. Small outputs travel
inside ``Exited``; larger or slower ones stream as ``Output`` frames, each acknowledged
with ``Ack`` once the daemon has logged it (at most ``WINDOW_BYTES`` are unacknowledged
per command, so a flood of output waits in the command's pipe, not in memory), or
answered with ``Discard`` once the run's log is full (the spawner then reads and drops).
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from seqd.runtime import frames
from seqd.runtime.frames import HEADER as HEADER
from seqd.runtime.frames import Frame, Hello, ProtocolError

MAX_FRAME_BYTES = 64 * 1024 * 1024
"""A longer frame is a protocol error (inputs are capped far below this)."""
INLINE_BYTES = 64 * 1024
"""Output held back to travel inside ``Exited`` (per command, both streams together)."""
STREAM_AFTER_S = 0.05
"""A command still running after this long streams its output as it comes."""
WINDOW_BYTES = 1024 * 1024
"""Output sent and not yet acknowledged, per command, before reading pauses."""


class CommandSpec(msgspec.Struct, kw_only=True, frozen=True):
    """What to run: exactly this argv, environment and directory. ``work_dir`` is
    created first (and ``input`` written to ``work_dir/input_file``); unless it holds
    directories it is removed after the command (``RunningCommand.work_dir_removed``).

    What the daemon asks for (``seqd.runtime.spawner.run.run_command``) and, with the
    request's ``id``, the ``Start`` frame: defined here, once, for both."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    work_dir: str | None = None
    input_file: str | None = None
    """A file name inside ``work_dir`` to write ``input`` to."""
    input: bytes = b""
    stdin_from_input: bool = False
    """The command reads ``input`` on its stdin, from ``input_file`` (else stdin is
    ``/dev/null``)."""
    spare_dir: str | None = None
    """Where emptied work dirs wait to be reused (renamed back into place): creating
    and deleting a directory and a file per run costs far more than two renames (see
    ``seqd.runtime.spawner.spares``)."""


# -- daemon -> spawner -----------------------------------------------------------------


# msgspec makes Start frozen like CommandSpec; mypy's dataclass rules cannot follow.
class Start(Frame, CommandSpec, tag="start"):  # type: ignore[misc]
    """Create ``work_dir`` (and ``input_file`` in it), then start ``argv`` as the leader
    of a new session in ``cwd`` with exactly ``env``; stdin is ``/dev/null`` (or the
    input file), stdout and stderr are pipes the spawner reads."""

    id: int
    remove_work_dir: bool = True
    """Remove ``work_dir`` once the command ended, unless it holds directories (then
    the caller removes it)."""


class Ack(Frame, tag="ack"):
    """The daemon logged ``size`` more bytes of the command's ``Output``: that much
    more may be sent before reading pauses."""

    id: int
    size: int


class Signal(Frame, tag="signal"):
    """Send ``signal`` to the command's process group, unless it was reaped already
    (then its group id may belong to someone else)."""

    id: int
    signal: int


class Discard(Frame, tag="discard"):
    """The caller takes no more output of this command: read it and drop it."""

    id: int


# -- spawner -> daemon -----------------------------------------------------------------


class Started(Frame, tag="started"):
    """The command runs as ``pid``, the leader of its own process group."""

    id: int
    pid: int


class StartFailed(Frame, tag="start_failed"):
    """The command could not be started (``seqd.runtime.procs.SpawnError`` on the
    daemon's side)."""

    id: int
    message: str
    errno: int | None = None


class Output(Frame, tag="output"):
    """A chunk of a streaming command's output, as read (not cut into lines)."""

    id: int
    stream: str
    """``stdout`` or ``stderr``."""
    data: bytes


class Exited(Frame, tag="exited"):
    """The command ended and was reaped: how, what it cost, and what it wrote that was
    held back."""

    id: int
    returncode: int | None
    cpu_s: float = 0.0
    peak_rss_bytes: int = 0
    stdout: bytes = b""
    """Output not sent in ``Output`` frames yet (at most ``INLINE_BYTES`` with stderr)."""
    stderr: bytes = b""
    work_dir_removed: bool = False


ToSpawner = Start | Ack | Signal | Discard
FromSpawner = Hello | Started | StartFailed | Output | Exited


__all__ = ["HEADER", "MAX_FRAME_BYTES", "Frame", "FrameBuffer", "Hello", "ProtocolError"]

decode_to_spawner: Callable[[frames.Body], ToSpawner] = frames.decoder(ToSpawner, "the daemon")
decode_from_spawner: Callable[[frames.Body], FromSpawner] = frames.decoder(
    FromSpawner, "the spawner"
)


def pack(frame: Frame) -> bytes:
    """The frame with its length prefix, ready to write."""
    return frames.pack(frame, MAX_FRAME_BYTES)


class FrameBuffer(frames.FrameBuffer):
    """Splits the channel's byte stream into frame bodies."""

    def __init__(self) -> None:
        super().__init__(MAX_FRAME_BYTES)
