"""The ping baseline: a bare uvloop + msgspec newline-JSON server.

It does the least a JSON-RPC server must do for ``daemon.ping`` — split lines, decode the
envelope with msgspec, encode ``{"jsonrpc":"2.0","id":..,"result":"pong"}`` and write it,
one write per reply like seqd's server — so seqd's cost over it is its own dispatch,
validation and bookkeeping. Run as ``python -m bench.echo_server SOCKET``; prints
``ready`` once listening, stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

import msgspec
import uvloop

logger = logging.getLogger(__name__)


class Request(msgspec.Struct):
    jsonrpc: str
    method: str
    id: int | str | None = None
    params: msgspec.Raw | None = None


class Response(msgspec.Struct):
    jsonrpc: str
    id: int | str | None
    result: str


_decode = msgspec.json.Decoder(Request).decode
_encode = msgspec.json.Encoder().encode


class Echo(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        buffer = self.buffer
        buffer += data
        start = 0
        while (end := buffer.find(b"\n", start)) >= 0:
            request = _decode(buffer[start:end])
            start = end + 1
            self.transport.write(_encode(Response("2.0", request.id, "pong")) + b"\n")
        if start:
            del buffer[:start]


async def serve(path: str) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    if os.path.exists(path):
        os.unlink(path)
    server = await loop.create_unix_server(Echo, path=path, backlog=1024)
    print("ready", flush=True)
    await stop.wait()
    server.close()
    await server.wait_closed()


def main() -> None:
    uvloop.run(serve(sys.argv[1]))


if __name__ == "__main__":
    main()
