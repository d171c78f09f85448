"""Calls as metrics: RPC requests, tool calls and storage calls, counted by outcome and
timed in histograms.

Each recorder is a plain function the part that makes the calls is given at assembly
(the dispatcher, the tool service, the traced storage), so none of them imports this
package. Labels stay bounded whatever callers send: an RPC method that does not exist
is counted as ``unknown`` and a tool that does not exist as ``unknown``; outcomes are
``ok`` or one of the daemon's error types.

Its own module because these three share one shape — (what, outcome, seconds) — and
are recorded on the hot path of every request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from seqd.observe.registry import Registry

UNKNOWN = "unknown"


class CallMetrics:
    def __init__(
        self,
        registry: Registry,
        methods: Iterable[str],
        tool_exists: Callable[[str], bool],
    ) -> None:
        self._methods = frozenset(methods)
        self._tool_exists = tool_exists
        self.rpc_requests = registry.counter(
            "seqd_rpc_requests_total",
            "JSON-RPC requests answered, by method and outcome (ok or the error type).",
            ("method", "outcome"),
        )
        self.rpc_latency = registry.histogram(
            "seqd_rpc_request_duration_seconds",
            "Time from a request's decoding to its answer, by method.",
            ("method",),
        )
        self.tool_calls = registry.counter(
            "seqd_tool_calls_total",
            "Tool calls, by tool and outcome (ok or the error type).",
            ("tool", "outcome"),
        )
        self.tool_latency = registry.histogram(
            "seqd_tool_call_duration_seconds", "How long tool calls took, by tool.", ("tool",)
        )
        self.storage_latency = registry.histogram(
            "seqd_storage_call_duration_seconds",
            "How long storage calls took, by operation.",
            ("operation",),
        )
        self.storage_errors = registry.counter(
            "seqd_storage_errors_total", "Storage calls that failed, by operation.", ("operation",)
        )

    def rpc(self, method: str, outcome: str, seconds: float) -> None:
        if method not in self._methods:
            method = UNKNOWN
        self.rpc_requests.inc((method, outcome))
        self.rpc_latency.observe((method,), seconds)

    def tool(self, tool: str, outcome: str, seconds: float) -> None:
        if not self._tool_exists(tool):
            tool = UNKNOWN
        self.tool_calls.inc((tool, outcome))
        self.tool_latency.observe((tool,), seconds)

    def storage(self, operation: str, seconds: float, failed: bool) -> None:
        self.storage_latency.observe((operation,), seconds)
        if failed:
            self.storage_errors.inc((operation,))
