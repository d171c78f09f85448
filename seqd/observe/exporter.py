"""The Prometheus HTTP exporter: ``GET /metrics`` on ``metrics.listen``.

prometheus_client's own server (a WSGI server on a thread, one more thread per
scrape) serves the text its ``generate_latest`` writes; our collector gets each
reading from the event loop (``Registry.families_threadsafe``), so the loop only takes
a copy and never formats or writes a response. Off unless configured; the address is
checked when the config is read (loopback only, unless ``metrics.allow_remote``).

Its own module because it is the one part of the metrics that opens a port.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from prometheus_client.exposition import start_http_server
from prometheus_client.registry import CollectorRegistry

from seqd.config.observe import parse_listen
from seqd.observe.exposition import FamiliesCollector
from seqd.observe.registry import Registry

logger = logging.getLogger(__name__)

READ_TIMEOUT_S = 5.0


class HttpExporter:
    def __init__(self, registry: Registry, listen: str, allow_remote: bool) -> None:
        self.host, self.port = parse_listen(listen, allow_remote)
        self._registry = registry
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind and serve (raises ``OSError`` if the address cannot be bound)."""
        scrape = CollectorRegistry(auto_describe=False)
        scrape.register(
            FamiliesCollector(lambda: self._registry.families_threadsafe(READ_TIMEOUT_S))
        )
        self._server, self._thread = start_http_server(self.port, self.host, registry=scrape)
        self.port = int(self._server.server_address[1])
        logger.info("metrics:     http://%s:%d/metrics (Prometheus)", self.host, self.port)

    def stop(self) -> None:
        """Stop serving (blocking: call it from a thread)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
