"""Helper process for the ping benchmark: ``python -m bench.pingclient SOCKET MODE N [P]``.

``raw``: a plain blocking socket, one ping at a time (N of them), then P pings written in
one go by a thread while this one reads every answer (pipelined requests/s).
``client``: ``seqd.client.Client.ping()`` N times.
Prints ``ready`` after connecting and warming up, waits for ``go`` on stdin, then prints
one JSON line: latency p50/p99 in seconds and the pipelined rate.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
import time

from bench.stats import percentile

logger = logging.getLogger(__name__)

WARMUP = 300


def _request(i: int) -> bytes:
    return b'{"jsonrpc":"2.0","id":%d,"method":"daemon.ping"}\n' % i


def _roundtrip(sock: socket.socket, request: bytes) -> bytes:
    sock.sendall(request)
    data = sock.recv(65536)
    while not data.endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
    return data


def raw_latencies(path: str, count: int) -> tuple[socket.socket, list[float]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    sock.connect(path)
    for i in range(WARMUP):
        _roundtrip(sock, _request(i))
    print("ready", flush=True)
    sys.stdin.readline()
    requests = [_request(i) for i in range(count)]
    latencies: list[float] = []
    bad = 0
    clock = time.perf_counter
    for request in requests:
        t0 = clock()
        data = _roundtrip(sock, request)
        latencies.append(clock() - t0)
        if b'"pong"' not in data:
            bad += 1
    if bad:
        raise RuntimeError(f"{bad} pings were not answered with pong")
    return sock, latencies


def pipelined(sock: socket.socket, count: int) -> float:
    """Requests/s for ``count`` pings sent in one go on one connection."""
    payload = b"".join(_request(i) for i in range(count))
    sender = threading.Thread(target=sock.sendall, args=(payload,), daemon=True)
    t0 = time.perf_counter()
    sender.start()
    seen = 0
    tail = b""
    while seen < count:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        seen += chunk.count(b"\n")
        tail = (tail + chunk)[-200:]
    elapsed = time.perf_counter() - t0
    sender.join(10)
    if b'"pong"' not in tail:
        raise RuntimeError(f"unexpected answer: {tail!r}")
    return count / elapsed


def client_latencies(path: str, count: int) -> list[float]:
    from seqd.client import Client

    latencies: list[float] = []
    clock = time.perf_counter
    with Client(path, timeout=30) as client:
        for _ in range(WARMUP):
            client.ping()
        print("ready", flush=True)
        sys.stdin.readline()
        for _ in range(count):
            t0 = clock()
            client.ping()
            latencies.append(clock() - t0)
    return latencies


def main() -> None:
    path, mode, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    result: dict[str, float] = {}
    if mode == "raw":
        sock, latencies = raw_latencies(path, count)
        n_pipelined = int(sys.argv[4]) if len(sys.argv) > 4 else 0
        if n_pipelined:
            result["rps"] = pipelined(sock, n_pipelined)
        sock.close()
    elif mode == "client":
        latencies = client_latencies(path, count)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    result["p50"] = percentile(latencies, 50)
    result["p99"] = percentile(latencies, 99)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
