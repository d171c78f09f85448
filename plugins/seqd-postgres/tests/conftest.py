"""Fixtures for the PostgreSQL backend: the real server, one fresh schema per test.

The server comes from ``$SEQD_TEST_POSTGRES_DSN`` (default: the local ``test``
database). When it cannot be reached the tests are skipped, except under ``CI=true``,
where a missing server is a failure: CI must not go green by testing nothing.

One test stops and restarts the shared server. Every test module here therefore marks
itself ``xdist_group("postgres")`` so that ``--dist loadgroup`` runs them all on one
worker, and every test that touches the server also holds a file lock: shared for
ordinary tests, exclusive for tests marked ``pg_exclusive``. The lock also keeps apart
test runs of other processes (another worker without loadgroup, another checkout).
Fixture names start with ``pg_`` so as not to shadow the repository's root fixtures.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from psycopg import sql
from seqd_postgres import PostgresBackend, PostgresStorageFactory
from seqd_postgres.options import redact_dsn

from seqd.plugins.storage import StorageContext

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"
LOCK_WAIT_S = 90.0
PgMaker = Callable[..., PostgresBackend]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "pg_exclusive: the test stops the PostgreSQL server; run it alone"
    )


@contextmanager
def server_lock(exclusive: bool) -> Iterator[None]:
    """Hold the machine-wide lock on the test server (shared or exclusive)."""
    path = os.path.join(tempfile.gettempdir(), "seqd-postgres-tests.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        deadline = time.monotonic() + LOCK_WAIT_S
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"another test run held {path} for {LOCK_WAIT_S:g}s")
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


def admin_connect(dsn: str) -> psycopg.Connection[Any]:
    """A plain synchronous connection for set-up and inspection from tests."""
    return psycopg.connect(dsn, autocommit=True, connect_timeout=5)


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    """The test server's DSN, once it answered; skip (fail under CI) otherwise."""
    dsn = os.environ.get("SEQD_TEST_POSTGRES_DSN") or DEFAULT_DSN
    try:
        with server_lock(exclusive=False):  # not while another run has it stopped
            admin_connect(dsn).close()
    except psycopg.Error as exc:
        reason = (
            f"PostgreSQL is not reachable at {redact_dsn(dsn)} ({' '.join(str(exc).split())});"
            " start it or point SEQD_TEST_POSTGRES_DSN at one"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    return dsn


@pytest.fixture
def pg_lock(request: pytest.FixtureRequest) -> Iterator[None]:
    """The server lock for this test: exclusive if it is marked ``pg_exclusive``."""
    with server_lock(request.node.get_closest_marker("pg_exclusive") is not None):
        yield


@pytest.fixture
def pg_schema(pg_dsn: str, pg_lock: None) -> Iterator[str]:
    """A fresh schema name, dropped with everything in it after the test."""
    name = f"seqd_test_{secrets.token_hex(6)}"
    yield name
    try:
        with admin_connect(pg_dsn) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
    except psycopg.Error as exc:  # the server may be down after a failed fault test
        print(f"could not drop schema {name}: {exc}")


@pytest.fixture
def pg_admin(pg_dsn: str, pg_lock: None) -> Callable[[], psycopg.Connection[Any]]:
    """``pg_admin()``: a new autocommit connection to the test server (close it)."""
    return lambda: admin_connect(pg_dsn)


@pytest.fixture
def pg_make(pg_dsn: str, pg_schema: str) -> PgMaker:
    """``pg_make(**options)``: a new, unopened backend on this test's schema."""

    def make(durability: str = "normal", **options: Any) -> PostgresBackend:
        options = {"dsn": pg_dsn, "schema": pg_schema, **options}
        context = StorageContext(state_dir="/nonexistent", durability=durability)
        return PostgresStorageFactory().create(options, context)

    return make
