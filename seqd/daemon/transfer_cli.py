"""The ``seqd export`` and ``seqd import`` commands: open the configured store
(through the plugin host, so plugin backends work too), stream, close.

The file (or stdout, stdin) is read and written through ``aiofiles``: the store's own
calls share the event loop with it, and a slow disk or pipe must not stall them.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Protocol

import aiofiles
import aiofiles.tempfile

from seqd.config.settings import Config, ConfigError, load_config
from seqd.daemon import loopwatch
from seqd.daemon.flags import flags_of, storage_flags
from seqd.errors import SeqdError
from seqd.plugins.host import PluginHost
from seqd.plugins.storage import StorageBackend, StorageContext
from seqd.storage.transfer import (
    READ_BYTES,
    TransferError,
    export_store,
    import_store,
    read_lines,
    verify,
)
from seqd.storage.transfer_check import Checker


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
        description="Load an export into the configured store. The file is checked "
        "whole first (its trailer's counts and checksum): one that was cut short or "
        "changed is refused before anything is written. Each run goes in with its log "
        "and journal at once; runs already there are skipped, so it can be repeated. "
        "The store must not be in use by a daemon (it is refused if it is); unfinished "
        "runs resume when a daemon next starts on it.",
    )
    storage_flags(imp)
    imp.add_argument("file", help="an export file, or - for stdin")
    imp.add_argument(
        "--verify",
        action="store_true",
        help="only check the file (complete, unchanged, in order); import nothing",
    )
    imp.add_argument(
        "--allow-unverified",
        action="store_true",
        help="accept an export from before trailers (format version 4 or older), which "
        "cannot be checked for a cut or a change",
    )
    return parser


async def _open(config: Config, claim: bool = False) -> StorageBackend:
    """The configured store, opened; with ``claim``, held by this process alone (an
    import refuses a store a daemon is using)."""
    host = PluginHost(config.disabled_plugins)
    await asyncio.to_thread(host.load)  # reads the installed packages' metadata
    factory = host.storage.get(config.storage)
    if factory is None:
        known = ", ".join(host.storage.names()) or "none"
        raise ConfigError(f"unknown storage backend {config.storage!r} (available: {known})")
    context = StorageContext(state_dir=config.resolved_state_dir(), durability=config.durability)
    store = factory.create(dict(config.backends.get(config.storage, {})), context)
    if claim:
        await store.claim()
    await store.open()
    return store


class _Output(Protocol):
    async def write(self, data: bytes, /) -> object: ...
    async def flush(self) -> None: ...


class _Input(Protocol):
    async def read(self, size: int = -1, /) -> bytes: ...


async def _export(config: Config, out: _Output) -> int:
    store = await _open(config)
    try:
        counts = await export_store(store, out.write)
        await out.flush()
    finally:
        await store.close()
    print(
        f"exported {counts.runs} runs, {counts.log_lines} log lines, "
        f"{counts.steps} journal entries, {counts.kv_keys} kv keys, "
        f"{counts.schedules} schedules",
        file=sys.stderr,
    )
    return 0


async def _verify(path: str, allow_unverified: bool) -> Checker:
    async with aiofiles.open(path, "rb") as source:
        return await verify(read_lines(source.read), allow_unverified)


def _describe(check: Checker) -> str:
    t = check.tally
    held = (
        f"{t.runs} runs, {t.log_lines} log lines, {t.steps} journal entries, "
        f"{t.kv_keys} kv keys, {t.schedules} schedules"
    )
    if check.verified:
        return f"complete and unchanged (sha256 {check.digest()}): {held}"
    return f"well-formed, but without a trailer it cannot be checked for a cut or a change: {held}"


async def _import(config: Config, path: str, args: argparse.Namespace) -> int:
    check = await _verify(path, args.allow_unverified)  # refuse a bad file before writing
    if args.verify:
        print(f"seqd import: {args.file}: {_describe(check)}", file=sys.stderr)
        return 0
    if not check.verified:
        print(f"seqd import: warning: {args.file}: {_describe(check)}", file=sys.stderr)
    store = await _open(config, claim=True)
    try:
        async with aiofiles.open(path, "rb") as source:
            counts = await import_store(store, read_lines(source.read), args.allow_unverified)
    finally:
        await store.close()
    print(
        f"imported {counts.runs} runs, {counts.log_lines} log lines, "
        f"{counts.steps} journal entries, {counts.kv_keys} kv keys, "
        f"{counts.schedules} schedules ({counts.skipped} runs already there, skipped)",
        file=sys.stderr,
    )
    return 0


async def _transfer(args: argparse.Namespace) -> int:
    config = load_config(flags_of(args), config_file=args.config)
    if config.slow_callback_ms:
        loopwatch.enable(asyncio.get_running_loop(), config.slow_callback_ms).armed = True
    if args.command == "export":
        if args.output in (None, "-"):
            return await _export(config, aiofiles.stdout_bytes)
        async with aiofiles.open(args.output, "wb") as out:
            return await _export(config, out)
    if args.file != "-":
        return await _import(config, args.file, args)
    # stdin is read twice (checked whole, then imported): from a copy of it.
    async with aiofiles.tempfile.NamedTemporaryFile("wb", prefix="seqd-import-") as copy:
        while chunk := await aiofiles.stdin_bytes.read(READ_BYTES):
            await copy.write(chunk)
        await copy.flush()
        return await _import(config, str(copy.name), args)


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        return asyncio.run(_transfer(args))
    except (ConfigError, TransferError, SeqdError, OSError) as exc:
        print(f"seqd {args.command}: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, (ConfigError, TransferError)) else 1
