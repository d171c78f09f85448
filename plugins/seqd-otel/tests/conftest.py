"""Fixtures: the OTLP/HTTP receiver and a real daemon exporting to it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from otlp_receiver import Receiver, StartDaemon

from seqd.client import Client, DaemonUnreachable


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def start_daemon(tmp_path: Path, receiver: Receiver) -> Iterator[StartDaemon]:
    """Start a daemon on ``tmp_path/tasks`` exporting to the receiver, with extra
    environment; returns its socket and process (stopped at the end of the test)."""
    started: list[subprocess.Popen[bytes]] = []

    def start(**extra: str) -> tuple[str, subprocess.Popen[bytes]]:
        socket = str(tmp_path / "s.sock")
        env = {
            **os.environ,
            "SEQD_CONFIG": "",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.server_port}",
            "OTEL_SERVICE_NAME": "seqd-under-test",
            **extra,
        }
        env.pop("NOTIFY_SOCKET", None)
        command = [sys.executable, "-m", "seqd", "--socket", socket, "--no-watch"]
        command += ["--state-dir", str(tmp_path / "state"), "--tasks", str(tmp_path / "tasks")]
        log_path = tmp_path / "daemon.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        started.append(proc)
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log_path.read_text()
            try:
                with Client(socket, timeout=5) as c:
                    c.ping()
                return socket, proc
            except DaemonUnreachable:
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.05)

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)
