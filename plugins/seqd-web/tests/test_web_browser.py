"""The dashboard in a real browser against a real daemon: log in with a token, see
the runs, submit a task from its form, watch its log stream, cancel a run, see an
alert fire, and every page once (each saved as a screenshot)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from web_harness import Web, login


def test_submit_watch_cancel_alert(web: Web, browser: Any, shots: Callable[..., None]) -> None:
    page = login(browser, web, web.token(), shots)

    # Submit hello from its form: the run page shows its log line and its output.
    page.goto(web.url + "/tasks/hello")
    page.fill("input[name=name]", "Ada")
    shots(page, "task")
    page.click("form.submit button")
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
    page.locator("#logs").get_by_text("Ada").wait_for()
    page.locator("#run-status .s-succeeded").wait_for()

    # The alerts page, open in another tab before anything is slow: nothing firing.
    alerts = page.context.new_page()
    alerts.goto(web.url + "/alerts")
    alerts.locator("#firing.calm").wait_for()

    # A slow run: its log lines arrive while the page is open (live, not on load).
    page.goto(web.url + "/tasks/slow")
    page.fill("input[name=seconds]", "60")
    page.click("form.submit button")
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
    slow_url = page.url
    logs = page.locator("#logs .log")
    at_load = logs.count()
    page.wait_for_function(
        "n => document.querySelectorAll('#logs .log').length > n", arg=at_load + 1
    )
    page.locator("#run-status .s-running").wait_for()
    shots(page, "run", full=True)

    # The alert on slow runs fires, and the open alerts tab shows it by itself (it
    # follows the alerts topic).
    alerts.locator("#firing.alarm").wait_for()
    assert "slow-running" in alerts.inner_text("main")
    shots(alerts, "alerts")
    alerts.close()

    # A signal from the run's page reaches the run (its journal records it).
    page.fill("form[action$='/signal'] input[name=name]", "poke")
    page.fill("form[action$='/signal'] input[name=data]", '{"n": 1}')
    page.click("form[action$='/signal'] button")
    page.wait_for_url(slow_url)
    steps = json.loads(web.seqctl("runs", "steps", slow_url.rsplit("/", 1)[1], "--json"))
    received = [s for s in steps["steps"] if s["kind"] == "signal_in"]
    assert [(s["name"], s["data"]["payload"]) for s in received] == [("poke", {"n": 1})]

    # The runs page lists it, and a run submitted meanwhile appears without a reload.
    page.goto(web.url + "/runs")
    page.locator("#runs .s-running").first.wait_for()
    before = page.locator("#runs tr").count()
    web.seqctl("run", "hello", "-i", "name=Live", "--detach")
    page.wait_for_function("n => document.querySelectorAll('#runs tr').length > n", arg=before)
    shots(page, "runs")
    page.goto(slow_url)
    page.once("dialog", lambda d: d.accept())
    page.click("form.danger button")
    page.locator("#run-status .s-cancelled").wait_for()
    run_id = slow_url.rsplit("/", 1)[1]
    shown = json.loads(web.seqctl("runs", "show", run_id, "--json"))
    assert shown["status"] == "cancelled"

    # Retry makes a new run of the same task and input, and opens it.
    page.click("form[action$='/retry'] button")
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
    retried = page.url.rsplit("/", 1)[1]
    assert retried != run_id
    again = json.loads(web.seqctl("runs", "show", retried, "--json"))
    assert (again["task"], again["input"]) == ("slow", {"seconds": 60})
    web.seqctl("runs", "cancel", retried)
    assert page.console_errors == []  # CSP let every script run


def test_every_page(web: Web, browser: Any, shots: Callable[..., None]) -> None:
    """The remaining pages render with real data: a flow's graph and trace, tasks,
    schedules (paused and resumed from the page), metrics charts (nodes: in
    test_web_nodes)."""
    out = web.log.parent / "etl-out.json"  # never /dev/null: the task replaces its file
    flow = json.loads(
        web.seqctl("run", "etl", "-i", "csv=name,amount\na,1", "-i", f"out={out}", "--json")
    )
    web.seqctl("schedules", "add", "nightly", "hello", "--cron", "0 3 * * *", "-i", "name=Bo")
    page = login(browser, web, web.token())

    nested = json.loads(
        web.seqctl("run", "nested", "-i", "csv=name,amount\na,1", "-i", f"out={out}", "--json")
    )
    page.goto(f"{web.url}/runs/{nested['id']}")
    tree = page.locator("ul.tree")
    for task in ("etl", "etl-extract", "etl-load", "hello"):  # children and grandchildren
        tree.locator("span.task", has_text=re.compile(f"^{task}$")).first.wait_for()
    assert tree.locator("ul.tree").count() >= 1  # drawn nested
    page.click("text=Flow graph")
    page.locator("svg.flow").wait_for()

    page.goto(f"{web.url}/runs/{flow['id']}/graph")
    for state in ("extract", "transform", "load"):
        page.locator(f'g.state.st-succeeded[data-state="{state}"]').wait_for()
    shots(page, "graph")
    page.goto(f"{web.url}/runs/{flow['id']}/trace")
    assert page.locator("svg.waterfall g.span").count() >= 4  # the flow and its 3 tasks
    shots(page, "trace")

    page.goto(web.url + "/tasks")
    page.get_by_role("link", name="etl-extract").wait_for()
    shots(page, "tasks")
    page.goto(web.url + "/tasks/etl")  # run twice: by itself and by the nested flow
    current = page.get_by_role("row", name=re.compile(r"\(current\)"))
    assert current.locator("td").nth(1).inner_text() == "2"

    page.goto(web.url + "/schedules")
    page.click("form[action='/schedules/nightly/pause'] button")
    page.locator(".s-paused").wait_for()
    shots(page, "schedules")
    assert "paused" in web.seqctl("schedules", "show", "nightly")
    page.click("form[action='/schedules/nightly/resume'] button")
    page.locator(".s-active").wait_for()

    # The runs page filters by schedule (and by task and status).
    triggered = json.loads(web.seqctl("schedules", "trigger", "nightly", "--json"))
    page.goto(web.url + "/runs?schedule=nightly")
    rows = page.locator("#runs tr")
    assert rows.count() == 1 and triggered["id"][:12] in rows.inner_text()
    page.goto(web.url + "/runs?task=etl&status=succeeded")
    shown = page.locator("#runs tr")
    assert shown.count() == 2  # the etl run, and the one the nested flow ran
    for row in shown.all():
        assert "etl" in row.inner_text() and "succeeded" in row.inner_text()

    page.goto(web.url + "/metrics")
    for n in range(3):  # something to count while the page samples
        web.seqctl("run", "hello", "-i", f"name=M{n}", "--detach")
    page.wait_for_function(
        "() => document.querySelectorAll('#charts .chart polyline').length >= 3", timeout=30_000
    )
    shots(page, "metrics")

    assert page.console_errors == []
