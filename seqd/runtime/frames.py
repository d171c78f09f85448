"""Length-prefixed msgpack frames: the wire of the daemon's private channels (python
workers, the shell spawner).

Each frame is a msgpack-encoded tagged Struct behind a 4-byte big-endian length; a
frame longer than the channel's limit is a protocol error (the peer is not trusted to
say how much memory to spend). Only msgspec and the standard library are imported:
the worker and the spawner import this at start-up, where every millisecond counts.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import msgspec

HEADER = struct.Struct(">I")

_encoder = msgspec.msgpack.Encoder()


class Frame(msgspec.Struct, tag_field="k", kw_only=True, forbid_unknown_fields=True):
    """Base of every frame: a tagged union member (``k`` names its kind)."""


class Hello(Frame, tag="hello"):
    """A helper's first frame on either channel, once it imported and bound itself to
    the daemon's life: its ``pid``."""

    pid: int


class ProtocolError(Exception):
    """A frame that cannot be decoded or is too long."""


def pack(frame: Frame, limit: int) -> bytes:
    """The frame with its length prefix, ready to write."""
    body = _encoder.encode(frame)
    if len(body) > limit:
        raise ProtocolError(f"frame of {len(body)} bytes exceeds {limit}")
    return HEADER.pack(len(body)) + body


def frame_length(header: bytes | bytearray, limit: int) -> int:
    """The body length a header announces (refused above ``limit``)."""
    (length,) = HEADER.unpack(header)
    if length > limit:
        raise ProtocolError(f"frame of {length} bytes exceeds {limit}")
    return int(length)


Body = bytes | bytearray | memoryview


def decoder(union: Any, sender: str) -> Callable[[Body], Any]:
    """A decoder for frames of ``union`` (a union of Frame types) that reports bad ones
    as ``ProtocolError`` naming the ``sender``; annotate the result with the union."""
    dec: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder(union)

    def decode(body: Body) -> Any:
        try:
            return dec.decode(body)
        except msgspec.DecodeError as exc:
            raise ProtocolError(f"bad frame from {sender}: {exc}") from None

    return decode


class FrameBuffer:
    """Splits a byte stream into frame bodies, holding at most one partial frame."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buf
        buf += data
        bodies: list[bytes] = []
        start = 0
        while len(buf) - start >= HEADER.size:
            (length,) = HEADER.unpack_from(buf, start)
            if length > self.limit:
                raise ProtocolError(f"frame of {length} bytes exceeds {self.limit}")
            end = start + HEADER.size + length
            if len(buf) < end:
                break
            bodies.append(bytes(buf[start + HEADER.size : end]))
            start = end
        if start:
            del buf[:start]
        return bodies

    def clear(self) -> None:
        """Drop the partial frame held (after a protocol error: what follows is noise)."""
        self._buf.clear()
