"""Benchmark 20: ``seqctl mcp`` (plugins/seqd-mcp) as an MCP client meets it — the
SDK's ``stdio_client`` launching it — against ``seqd.client.AsyncClient`` asking the
daemon the same thing directly, in the same run: what the MCP layer costs."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

from bench import stats
from bench.harness import PYTHON, running
from bench.report import Outcome, Row
from bench.settings import Settings

logger = logging.getLogger(__name__)

CALLS = 300
TASK = "bench-noop"


async def _timed(n: int, *calls: Callable[[], Awaitable[Any]]) -> list[float]:
    """The median seconds of each of ``calls``, over ``n`` rounds in which each is
    called once in turn (so drift — the store growing, other load — hits all alike),
    after 20 unmeasured rounds."""
    times: list[list[float]] = [[] for _ in calls]
    for round in range(20 + n):
        for i, call in enumerate(calls):
            t0 = time.perf_counter()
            await call()
            if round >= 20:
                times[i].append(time.perf_counter() - t0)
    return [stats.median(t) for t in times]


async def _measure(socket: str, run_id: str, n: int) -> dict[str, Any]:
    from mcp import ClientSession, StdioServerParameters, stdio_client

    from seqd.client import AsyncClient

    seqctl = str(Path(PYTHON).parent / "seqctl")
    params = StdioServerParameters(
        command=seqctl, args=["mcp", "--socket", socket, "--allow-task", TASK]
    )
    t0 = time.perf_counter()
    async with (
        stdio_client(params) as (read, write),
        ClientSession(read, write) as s,
        AsyncClient(socket) as c,
    ):
        await s.initialize()
        started = time.perf_counter() - t0
        get = await _timed(
            n, lambda: s.call_tool("get_run", {"id": run_id}), lambda: c.get_run(run_id)
        )
        ran = await _timed(
            n,
            lambda: s.call_tool(f"run.{TASK}", {}),
            lambda: c.submit(TASK, {}, wait=True, timeout_s=60),
        )
        (listing,) = await _timed(max(n // 10, 5), s.list_tools)
    return {"start": started, "get": get, "run": ran, "list": listing}


def run(settings: Settings) -> Outcome:
    title = "seqctl mcp: start-up and tool calls"
    try:
        import seqd_mcp  # noqa: F401 - only whether the plugin is installed
    except ImportError:
        return Outcome(key="21", title=title, error="plugins/seqd-mcp is not installed")
    n = settings.count(CALLS, 20)
    samples = []
    with running("mcp") as daemon:
        from seqd.client import Client

        with Client(daemon.socket) as c:
            run_id = c.submit(TASK, {}, wait=True, timeout_s=60).id
        for _ in range(settings.reps):
            samples.append(anyio.run(_measure, daemon.socket, run_id, n))
    start = stats.median([s["start"] for s in samples])
    get_mcp, get_direct = (stats.median([s["get"][i] for s in samples]) for i in (0, 1))
    run_mcp, run_direct = (stats.median([s["run"][i] for s in samples]) for i in (0, 1))
    listing = stats.median([s["list"] for s in samples])
    rows = [
        Row(
            id="21a",
            name="seqctl mcp: spawn → initialized (stdio_client)",
            figure=stats.ms(start),
        ),
        Row(
            id="21b",
            name="get_run tool call p50",
            figure=stats.ms(get_mcp),
            baseline=f"{stats.ms(get_direct)} (AsyncClient.get_run)",
            ratio=stats.ratio(get_mcp, get_direct),
        ),
        Row(
            id="21c",
            name=f"run.{TASK} tool call p50 (runs and waits)",
            figure=stats.ms(run_mcp),
            baseline=f"{stats.ms(run_direct)} (AsyncClient.submit, wait)",
            ratio=stats.ratio(run_mcp, run_direct),
        ),
        Row(id="21d", name="tools/list p50 (asks the daemon each time)", figure=stats.ms(listing)),
    ]
    notes = [
        f"{settings.reps} repetitions, each a fresh `seqctl mcp` started by the MCP SDK's "
        f"`stdio_client`, then {n:,} rounds (after 20 unmeasured) of a tool call followed "
        "by the same request through `seqd.client.AsyncClient` directly, so that drift "
        "hits both alike. "
        f"The MCP overhead of a call is {stats.ms(get_mcp - get_direct)} at p50: the SDK's "
        "JSON-RPC over two pipes, pydantic validation of both messages, and the result "
        "encoded twice (text and structured content).",
        "21a is mostly importing the SDK (pydantic, starlette, anyio); seqctl's other "
        "commands never import it (tests/cli/test_imports.py).",
    ]
    return Outcome(key="21", title=title, rows=rows, notes=notes)
