"""Benchmark 20: what the web dashboard adds to a call, and what a page costs.

A daemon serves the dashboard (seqd-web) on loopback; the bench logs in with a token
and, over one keep-alive HTTP connection, asks for ``runs.get`` through the page
scripts' JSON proxy (``POST /rpc/runs.get``: HTTP, the session and token check, the
in-process call through the dispatcher) and for a whole run page (``GET /runs/ID``:
the run, its logs, journal and tree, rendered). Baseline: ``runs.get`` over the socket
with ``seqd.client.Client``, what seqctl pays for the same answer.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

from bench import stats
from bench.harness import running
from bench.report import Outcome, Row
from bench.settings import Settings
from seqd.client import Client

CALLS = 500
TARGET_PROXY_S = 0.005
TARGET_PAGE_S = 0.050


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def timed(call: Callable[[], object], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


class Session:
    """One logged-in keep-alive HTTP connection to the dashboard."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        body = urlencode({"token": token})
        self.conn.request(
            "POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"}
        )
        response = self.conn.getresponse()
        response.read()
        if response.status != 303:
            raise RuntimeError(f"login answered {response.status}")
        self.cookie = (response.getheader("set-cookie") or "").split(";", 1)[0]
        page = self.get("/runs")
        found = re.search(r'name="csrf-token" content="([^"]+)"', page)
        if found is None:
            raise RuntimeError("no CSRF token on the runs page")
        self.csrf = found.group(1)

    def get(self, path: str) -> str:
        self.conn.request("GET", path, headers={"Cookie": self.cookie})
        response = self.conn.getresponse()
        text = response.read().decode()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status}")
        return text

    def rpc(self, method: str, params: dict[str, object]) -> object:
        headers = {"Cookie": self.cookie, "X-CSRF-Token": self.csrf,
                   "Content-Type": "application/json"}  # fmt: skip
        self.conn.request("POST", f"/rpc/{method}", json.dumps(params), headers)
        response = self.conn.getresponse()
        body = json.loads(response.read())
        if response.status != 200:
            raise RuntimeError(f"{method}: {body}")
        return body["result"]


def run(settings: Settings) -> Outcome:
    n = settings.count(CALLS, 20)
    port = free_port()
    proxy: list[float] = []
    pages: list[float] = []
    socket_: list[float] = []
    with tempfile.TemporaryDirectory(prefix="seqd-bench-web-") as tmp:
        config = Path(tmp) / "seqd.toml"
        config.write_text(f'[web]\nlisten = "127.0.0.1:{port}"\n')
        with (
            running("web", args=["--config", str(config)]) as daemon,
            Client(daemon.socket, timeout=60) as client,
        ):
            ticks = {"n": 20, "interval_s": 0, "pause_s": 0}  # a page with log lines
            run_id = client.submit("bench-ticker", ticks, wait=True, timeout_s=60).id
            token = client.call("tokens.create", {"label": "bench"}).token
            session = Session(port, token)
            timed(lambda: session.rpc("runs.get", {"id": run_id}), 20)  # warm-up
            for _ in range(settings.reps):
                samples = timed(lambda: client.call("runs.get", {"id": run_id}), n)
                socket_.append(stats.percentile(samples, 50))
                samples = timed(lambda: session.rpc("runs.get", {"id": run_id}), n)
                proxy.append(stats.percentile(samples, 50))
                samples = timed(lambda: session.get(f"/runs/{run_id}"), max(n // 5, 5))
                pages.append(stats.percentile(samples, 50))
    base = stats.median(socket_)
    p_proxy, p_page = stats.median(proxy), stats.median(pages)
    rows = [
        Row(
            id="22a",
            name="runs.get through the dashboard's JSON proxy (p50)",
            figure=stats.ms(p_proxy),
            baseline=f"{stats.ms(base)} (runs.get over the socket)",
            ratio=stats.ratio(p_proxy, base),
            target="≤ 5 ms",
            met=p_proxy <= TARGET_PROXY_S,
        ),
        Row(
            id="22b",
            name="a run's page, rendered (p50)",
            figure=stats.ms(p_page),
            baseline=f"{stats.ms(base)} (runs.get over the socket)",
            ratio=stats.ratio(p_page, base),
            target="≤ 50 ms",
            met=p_page <= TARGET_PAGE_S,
        ),
    ]
    notes = [
        f"{settings.reps} repetitions of {n} sequential calls each (pages: {max(n // 5, 5)}) "
        "on one keep-alive HTTP connection, logged in with a token, against a finished "
        "`bench-ticker` run (20 log lines); the baseline is the same `runs.get` from "
        "`seqd.client.Client`.",
        "Repetition p50s ranged: proxy " + stats.spread(proxy, stats.ms) + ", page "
        + stats.spread(pages, stats.ms) + ", socket " + stats.spread(socket_, stats.ms) + ".",
        "What a dashboard request adds: HTTP parsing (uvicorn, Starlette), the session "
        "lookup and the token check (a read of tokens.json in a thread, so revoking a "
        "token takes effect at once), a connection as the user (its role), and JSON "
        "encoding twice (the dispatcher's answer, then the HTTP body). A run page makes "
        "four calls (the run, its logs, its journal, its children) and renders HTML.",
    ]  # fmt: skip
    return Outcome(key="22", title="the web dashboard: proxy call and page", rows=rows, notes=notes)
