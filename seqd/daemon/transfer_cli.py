"""The ``seqd export`` and ``seqd import`` commands: open the configured store
(through the plugin host, so plugin backends work too), stream, close."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import BinaryIO

from seqd.config.settings import ConfigError, load_config
from seqd.daemon.flags import flags_of, storage_flags
from seqd.errors import SeqdError
from seqd.plugins.host import PluginHost
from seqd.plugins.storage import StorageBackend, StorageContext
from seqd.storage.transfer import TransferError, export_store, import_store


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seqd", description="Move a whole seqd store in and out as JSON Lines."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    exp = sub.add_parser(
        "export",
        help="write every run and log line as JSON Lines",
        description="Write the whole store as JSON Lines (safe while the daemon runs).",
    )
    storage_flags(exp)
    exp.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    imp = sub.add_parser(
        "import",
        help="load an export into the configured store",
        description="Load an export into the configured store. Runs already there are "
        "skipped, so it can be repeated. Import into a store no daemon is using; "
        "unfinished runs resume when a daemon next starts on it.",
    )
    storage_flags(imp)
    imp.add_argument("file", help="an export file, or - for stdin")
    return parser


async def _open(args: argparse.Namespace) -> StorageBackend:
    config = load_config(flags_of(args), config_file=args.config)
    host = PluginHost(config.disabled_plugins)
    host.load()
    factory = host.storage.get(config.storage)
    if factory is None:
        known = ", ".join(host.storage.names()) or "none"
        raise ConfigError(f"unknown storage backend {config.storage!r} (available: {known})")
    context = StorageContext(state_dir=config.resolved_state_dir(), durability=config.durability)
    store = factory.create(dict(config.backends.get(config.storage, {})), context)
    await store.open()
    return store


async def _export(args: argparse.Namespace, out: BinaryIO) -> int:
    store = await _open(args)
    try:
        counts = await export_store(store, out.write)
        out.flush()
    finally:
        await store.close()
    print(
        f"exported {counts.runs} runs, {counts.log_lines} log lines, "
        f"{counts.steps} journal entries, {counts.kv_keys} kv keys, "
        f"{counts.schedules} schedules",
        file=sys.stderr,
    )
    return 0


async def _import(args: argparse.Namespace, source: BinaryIO) -> int:
    store = await _open(args)
    try:
        counts = await import_store(store, source)
    finally:
        await store.close()
    print(
        f"imported {counts.runs} runs, {counts.log_lines} log lines, "
        f"{counts.steps} journal entries, {counts.kv_keys} kv keys, "
        f"{counts.schedules} schedules ({counts.skipped} runs already there, skipped)",
        file=sys.stderr,
    )
    return 0


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "export":
            if not args.output:
                return asyncio.run(_export(args, sys.stdout.buffer))
            with open(args.output, "wb") as out:
                return asyncio.run(_export(args, out))
        if args.file == "-":
            return asyncio.run(_import(args, sys.stdin.buffer))
        with open(args.file, "rb") as source:
            return asyncio.run(_import(args, source))
    except (ConfigError, TransferError, SeqdError, OSError) as exc:
        print(f"seqd {args.command}: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, (ConfigError, TransferError)) else 1
