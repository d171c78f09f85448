"""The Nodes page in a real browser: on SQLite, the one daemon, marked as a single
node; on PostgreSQL, two real daemons sharing one schema, the second appearing, holding
a run and dying while the page stays open (it refreshes itself); the Runs and Run pages
name the node running a run."""

from __future__ import annotations

import json
import re
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from web_harness import Web, login, serve

NODE_ROW = "#nodes tr"
GATED = """
import time


def run(ctx):
    ctx.wait_signal("go", timeout_s=60)
    time.sleep(60)
"""


@pytest.fixture
def place() -> Iterator[Path]:
    """A folder for the test's daemons."""
    base = Path(tempfile.mkdtemp(prefix="seqd-web-nodes-"))
    yield base
    shutil.rmtree(base, ignore_errors=True)


def pg_config(dsn: str, schema: str, node: str, dashboard: bool) -> str:
    web = '[web]\nlisten = "127.0.0.1:0"\n\n' if dashboard else ""
    return (
        f'storage = "postgres"\nnode = "{node}"\n\n{web}'
        f'[backends.postgres]\ndsn = "{dsn}"\nschema = "{schema}"\nlease_s = 3\n'
    )


def test_single_node_on_sqlite(web: Web, browser: Any) -> None:
    page = login(browser, web, web.token())
    status = json.loads(web.seqctl("status", "--json"))
    page.goto(web.url + "/nodes")
    assert "single node (SQLite/file store)" in page.inner_text("#nodes-summary")
    rows = page.locator(NODE_ROW)
    assert rows.count() == 1
    mine = page.locator(f"{NODE_ROW}.this")
    assert mine.get_attribute("data-node") == status["node"]
    cells = mine.locator("td").all_inner_texts()
    assert cells[0] == f"{status['node']} this node"
    assert (cells[2], cells[3], cells[6], cells[8]) == (
        str(status["pid"]),
        status["version"],
        "0",
        "alive",
    )
    assert re.fullmatch(r"\d+ s ago", cells[5])

    # A run started while the page is open: the table shows it held, without a reload.
    slow = json.loads(web.seqctl("run", "slow", "-i", "seconds:=60", "--detach", "--json"))
    page.wait_for_function(
        "() => document.querySelector('#nodes tr.this td:nth-child(7)').textContent === '1'"
    )

    # The Runs and Run pages name the node running it.
    page.goto(web.url + "/runs?status=running")
    row = page.locator("#runs tr", has_text=slow["id"][:12])
    row.locator(".s-running").wait_for()
    assert row.locator("td").nth(5).inner_text() == status["node"]
    page.goto(f"{web.url}/runs/{slow['id']}")
    assert page.inner_text("#run-node") == status["node"]
    web.seqctl("runs", "cancel", slow["id"])
    page.locator("#run-status .s-cancelled").wait_for()

    # A suspended run names no node; its page shows the node once it runs again.
    gated = web.log.parent / "tasks" / "gated"
    gated.mkdir()
    (gated / "code.py").write_text(GATED)
    (gated / "config.json").write_text('{"type": "python"}')
    web.seqctl("daemon", "reload")
    run = json.loads(web.seqctl("run", "gated", "--detach", "--json"))
    page.goto(f"{web.url}/runs/{run['id']}")
    page.locator("#run-status .s-suspended").wait_for()
    assert page.inner_text("#run-node") == ""
    web.seqctl("runs", "signal", run["id"], "go")
    page.locator("#run-status .s-running").wait_for()
    page.locator("#run-node", has_text=status["node"]).wait_for()
    web.seqctl("runs", "cancel", run["id"])
    assert page.console_errors == []


def test_two_nodes_on_postgres(
    pg_place: tuple[str, str], place: Path, browser: Any, shots: Callable[..., None]
) -> None:
    dsn, schema = pg_place
    config_a = pg_config(dsn, schema, "web-a", dashboard=True)
    with serve(place / "a", config_a) as a:
        page = login(browser, a, a.token())
        page.goto(a.url + "/nodes")
        assert page.locator(NODE_ROW).count() == 1
        assert "cluster on a shared store: 1 node alive" in page.inner_text("#nodes-summary")

        # A second node joins: the open page lists it by itself.
        with serve(place / "b", pg_config(dsn, schema, "web-b", dashboard=False)) as b:
            page.wait_for_function("() => document.querySelectorAll('#nodes tr').length === 2")
            found = json.loads(a.seqctl("nodes", "--json"))
            ids = {n["info"]["name"]: n["info"]["id"] for n in found["nodes"]}
            assert page.locator(f"{NODE_ROW}.this").get_attribute("data-node") == ids["web-a"]
            other = page.locator(f'{NODE_ROW}[data-node="{ids["web-b"]}"]')
            assert "this node" not in other.inner_text()
            assert other.locator("td").nth(2).inner_text() == str(b.proc.pid)
            assert "2 nodes alive" in page.inner_text("#nodes-summary")

            # A run submitted to b, which has free workers, is b's: its row counts it,
            # and a's Runs page names b as the node running it.
            run = json.loads(b.seqctl("run", "slow", "-i", "seconds:=60", "--detach", "--json"))
            other.locator("td:nth-child(7)", has_text=re.compile("^1$")).wait_for()
            page.set_viewport_size({"width": 1200, "height": 480})  # a small picture
            shots(page, "nodes")
            runs = page.context.new_page()
            runs.goto(a.url + "/runs")
            row = runs.locator("#runs tr", has_text=run["id"][:12])
            row.locator(".s-running").wait_for()
            assert row.locator("td").nth(5).inner_text() == "web-b"
            runs.close()

            # b dies without a word: once its lease runs out, a shows it dead (or, once
            # its run was taken over, gone).
            b.proc.send_signal(signal.SIGKILL)
            b.proc.wait()
            page.wait_for_function(
                """id => {
                  const row = document.querySelector(`#nodes tr[data-node="${id}"]`);
                  return !row || row.querySelector('.s-dead') !== null;
                }""",
                arg=ids["web-b"],
            )
        a.seqctl("runs", "cancel", run["id"])
        assert page.console_errors == []
