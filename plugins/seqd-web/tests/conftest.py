"""Fixtures: a real daemon serving the dashboard, a second unprivileged user, headless
Chromium driven by Playwright, and screenshots.

The browser is Debian's ``chromium`` (``make test`` installs it when missing, as
root); Playwright never downloads one. Without it, or without root to act as a
second user, the tests that need them skip saying why, and fail under ``CI=true``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from web_harness import CHROMIUM, CONFIG, OTHER, Web, need, serve


@pytest.fixture
def web() -> Iterator[Web]:
    """A daemon serving the dashboard on a free port, its socket open to every user
    (in a folder they may enter: pytest's own are root's alone)."""
    base = Path(tempfile.mkdtemp(prefix="seqd-web-"))
    base.chmod(0o755)
    try:
        with serve(base, CONFIG) as daemon:
            yield daemon
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_place() -> Iterator[tuple[str, str]]:
    """``(dsn, schema)``: the test PostgreSQL server ($SEQD_TEST_POSTGRES_DSN) and a
    fresh schema on it, dropped afterwards; skips (fails under CI=true) without one."""
    import psycopg
    from psycopg import sql

    dsn = os.environ.get("SEQD_TEST_POSTGRES_DSN") or "postgresql://postgres@127.0.0.1:5432/test"
    try:
        psycopg.connect(dsn, connect_timeout=5).close()
    except psycopg.Error as exc:
        need(f"PostgreSQL is not reachable ({' '.join(str(exc).split())})")
    schema = f"seqd_web_test_{secrets.token_hex(6)}"
    yield dsn, schema
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture(scope="session")
def other_user() -> str:
    """A second, unprivileged user (created once): its role is the default, reader."""
    if os.geteuid() != 0 or not shutil.which("setpriv") or not shutil.which("useradd"):
        need("needs root, setpriv and useradd to act as a second user")
    if subprocess.run(["id", "-u", OTHER], capture_output=True).returncode != 0:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", OTHER],
            capture_output=True,
        )
    return OTHER


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Debian chromium under Playwright, for one test: Playwright's sync API
    runs an event loop of its own in this thread while it is open, which would break
    every later test of the process that calls ``asyncio.run``."""
    if not os.path.exists(CHROMIUM):
        need(f"{CHROMIUM} is not installed (apt-get install chromium; make test does it as root)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need("the playwright package is not installed (make venv)")
    with sync_playwright() as p:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        yield b
        b.close()


@pytest.fixture
def shots() -> Callable[[Any, str], None]:
    """``shot(page, name, full=False)``: a screenshot of the window (``full``: the whole
    page), into $SEQD_WEB_SCREENSHOTS (the
    docs' pictures come from here: SEQD_WEB_SCREENSHOTS=docs/web) or a temp folder."""
    folder = Path(os.environ.get("SEQD_WEB_SCREENSHOTS") or tempfile.gettempdir() + "/seqd-web")
    folder.mkdir(parents=True, exist_ok=True)

    def shot(page: Any, name: str, full: bool = False) -> None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=full)

    return shot
