"""``[backends.postgres]``: validated options, and a DSN safe to show.

The password never leaves this module except inside the DSN handed to libpq:
``location`` (what logs and ``daemon.status`` show) is the DSN without it, and option
errors never echo a DSN that carries one.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec
import psycopg
from msgspec import Meta
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from seqd.errors import ValidationFailed
from seqd.plugins.storage_kit.options import convert_options, option_error

logger = logging.getLogger(__name__)

DSN_ENV = "SEQD_POSTGRES_DSN"
SECTION = "backends.postgres"
SCHEMA_PATTERN = r"^[a-z_][a-z0-9_]{0,62}$"
"""A lower-case PostgreSQL identifier, so the name means the same quoted or not."""


class PostgresOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    dsn: str | None = None
    """A libpq connection string (URI or ``key=value``); else ``$SEQD_POSTGRES_DSN``."""
    schema: Annotated[str, Meta(pattern=SCHEMA_PATTERN)] = "seqd"
    """Created if missing; every pooled connection puts it first on its search_path."""
    min_size: Annotated[int, Meta(ge=0, le=1000)] = 1
    max_size: Annotated[int, Meta(ge=1, le=1000)] = 10
    connect_timeout_s: Annotated[float, Meta(gt=0, le=600)] = 10.0
    """Bound on opening one connection (libpq counts whole seconds, at least 2)."""
    pool_timeout_s: Annotated[float, Meta(gt=0, le=600)] = 5.0
    """How long a call waits for a free connection before ``storage_unavailable``."""
    statement_timeout_s: Annotated[float, Meta(gt=0, le=86_400)] = 30.0
    """Server-side bound on one statement; the client gives up a little later."""
    cluster: bool = True
    """Several daemons (nodes) may share the schema and its queue; false: one daemon
    holds it alone (a session lock), as before nodes existed."""
    lease_s: Annotated[float, Meta(ge=3, le=3600)] = 20.0
    """A node's lease on its runs: renewed every third of it; a node silent for this
    long is dead, and another node takes its runs over at its next heartbeat (within
    ``lease_s * 4 / 3``: under 27 s by default)."""

    @property
    def connect_timeout(self) -> int:
        return max(2, math.ceil(self.connect_timeout_s))


def _fail(field: str, message: str) -> ValidationFailed:
    return option_error(SECTION, field, message)


def parse_options(
    options: Mapping[str, Any], env: Mapping[str, str] | None = None
) -> tuple[PostgresOptions, str]:
    """Validate ``[backends.postgres]``; return the options and the DSN to connect with.

    ``dsn`` in the options wins over ``$SEQD_POSTGRES_DSN`` (so a ``--storage-opt``
    flag can still override it); errors name the offending field.
    """
    # msgspec's message may quote the value: never for the DSN, which may hold a password
    opts = convert_options(options, PostgresOptions, SECTION, {"dsn": "expected a string"})
    if opts.min_size > opts.max_size:
        raise _fail("min_size", f"{opts.min_size} is more than max_size ({opts.max_size})")
    if opts.schema.startswith("pg_"):
        raise _fail("schema", "names starting with pg_ are reserved by PostgreSQL")
    environ = os.environ if env is None else env
    dsn = opts.dsn if opts.dsn is not None else environ.get(DSN_ENV, "")
    origin = "" if opts.dsn is not None else f" (from ${DSN_ENV})"
    if not dsn.strip():
        raise _fail("dsn", f"required: a PostgreSQL connection string, or set ${DSN_ENV}")
    try:
        conninfo_to_dict(dsn)
    except psycopg.Error as exc:
        # libpq's message quotes pieces of the string, which may hold the password.
        detail = "" if _may_hold_password(dsn) else f": {exc}"
        raise _fail("dsn", f"not a valid PostgreSQL connection string{origin}{detail}") from None
    return opts, dsn


def _is_uri(dsn: str) -> bool:
    return dsn.startswith(("postgresql://", "postgres://"))


def _may_hold_password(dsn: str) -> bool:
    if "password" in dsn.lower():
        return True
    return _is_uri(dsn) and ":" in dsn.split("//", 1)[1].split("@", 1)[0] and "@" in dsn


def redact_dsn(dsn: str) -> str:
    """The DSN without its password, in the form it was written (URI or key=value)."""
    if _is_uri(dsn):
        parts = urlsplit(dsn)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, hosts = netloc.rsplit("@", 1)
            netloc = f"{userinfo.split(':', 1)[0]}@{hosts}"
        query = urlencode(
            [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "password"],
            safe="/:",
        )
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.Error:
        return "(an unparsable connection string)"
    params.pop("password", None)
    return make_conninfo("", **params)
