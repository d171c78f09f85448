"""seqd-postgres: the ``postgres`` storage backend (PostgreSQL or Supabase).

Installed beside seqd, it is found through the ``seqd`` entry-point group; choose it
with ``storage = "postgres"`` (or ``--storage postgres``) and give it a ``dsn`` in
``[backends.postgres]`` or ``$SEQD_POSTGRES_DSN``. See the README for the options.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from seqd import hookimpl
from seqd.plugins.storage import StorageContext, StorageFactory
from seqd.plugins.storage_kit.schema import SchemaTooNew

if TYPE_CHECKING:
    from seqd_postgres.backend import PostgresBackend
    from seqd_postgres.options import PostgresOptions
    from seqd_postgres.schema import LATEST, MIGRATIONS, Migration

logger = logging.getLogger(__name__)

# psycopg costs ~100 ms to import: the daemon loads this entry point at every start,
# whatever backend it uses, so everything below is imported on first use only.
_LAZY = {
    "PostgresBackend": "seqd_postgres.backend",
    "PostgresOptions": "seqd_postgres.options",
    "LATEST": "seqd_postgres.schema",
    "MIGRATIONS": "seqd_postgres.schema",
    "Migration": "seqd_postgres.schema",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'seqd_postgres' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "LATEST",
    "MIGRATIONS",
    "Migration",
    "PostgresBackend",
    "PostgresOptions",
    "PostgresStorageFactory",
    "SchemaTooNew",
]


class PostgresStorageFactory:
    """Opens ``PostgresBackend`` from ``[backends.postgres]``."""

    name = "postgres"

    def create(self, options: dict[str, Any], context: StorageContext) -> PostgresBackend:
        from seqd_postgres.backend import PostgresBackend
        from seqd_postgres.options import parse_options

        opts, dsn = parse_options(options)
        return PostgresBackend(dsn, opts, durability=context.durability)


@hookimpl
def seqd_register_storage_backends(register: Callable[[StorageFactory], None]) -> None:
    register(PostgresStorageFactory())
