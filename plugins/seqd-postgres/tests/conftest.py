"""Fixtures for the PostgreSQL backend: the real server, one fresh schema per test.

The server comes from ``$SEQD_TEST_POSTGRES_DSN`` (default: the local ``test``
database). When it cannot be reached the tests are skipped, except under ``CI=true``,
where a missing server is a failure: CI must not go green by testing nothing.

The shared server is never stopped or reconfigured: every test works in a schema of
its own, and the fault tests that must stop a server start a private one
(``throwaway.py``). Fixture names start with ``pg_`` so as not to shadow the
repository's root fixtures.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from seqd_postgres import PostgresBackend, PostgresStorageFactory
from seqd_postgres.options import redact_dsn

from seqd.plugins.storage import StorageContext

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"
PgMaker = Callable[..., PostgresBackend]


def admin_connect(dsn: str) -> psycopg.Connection[Any]:
    """A plain synchronous connection for set-up and inspection from tests."""
    return psycopg.connect(dsn, autocommit=True, connect_timeout=5)


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    """The test server's DSN, once it answered; skip (fail under CI) otherwise."""
    dsn = os.environ.get("SEQD_TEST_POSTGRES_DSN") or DEFAULT_DSN
    try:
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
def pg_schema(pg_dsn: str) -> Iterator[str]:
    """A fresh schema name, dropped with everything in it after the test."""
    name = f"seqd_test_{secrets.token_hex(6)}"
    yield name
    try:
        with admin_connect(pg_dsn) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
    except psycopg.Error as exc:  # the server may be down after a failed fault test
        print(f"could not drop schema {name}: {exc}")


@pytest.fixture
def pg_admin(pg_dsn: str) -> Callable[[], psycopg.Connection[Any]]:
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
