"""An OTLP/HTTP receiver run by the test (spans on ``/v1/traces``, metrics on
``/v1/metrics``, decoded with ``opentelemetry-proto``); ``conftest.py`` starts it and a
real daemon exporting to it."""

from __future__ import annotations

import gzip
import subprocess
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


class Receiver(ThreadingHTTPServer):
    """Keeps every span it is sent (with its resource) and every metrics request."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.spans: list[tuple[dict[str, Any], Any]] = []
        self.metrics: list[ExportMetricsServiceRequest] = []
        self.paths: set[str] = set()
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        answer: bytes
        with self.server.lock:
            self.server.paths.add(self.path)
            if self.path == "/v1/metrics":
                metrics = ExportMetricsServiceRequest()
                metrics.ParseFromString(body)
                self.server.metrics.append(metrics)
                answer = ExportMetricsServiceResponse().SerializeToString()
            else:
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                for resource_spans in request.resource_spans:
                    attributes = resource_spans.resource.attributes
                    resource = {a.key: a.value.string_value for a in attributes}
                    for scope in resource_spans.scope_spans:
                        self.server.spans.extend((resource, span) for span in scope.spans)
                answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def write_task(tasks: Path, name: str, code: str) -> None:
    (tasks / name).mkdir(parents=True)
    (tasks / name / "code.py").write_text(code)
    (tasks / name / "config.json").write_text('{"type": "python"}')


StartDaemon = Callable[..., tuple[str, subprocess.Popen[bytes]]]
