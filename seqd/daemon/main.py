"""``seqd``: the daemon's command line, logging, signals and main loop."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import resource
import signal
import sys
from typing import TYPE_CHECKING, Any

from seqd import __version__
from seqd.config.secrets import RedactingFilter
from seqd.config.settings import ConfigError, load_config
from seqd.daemon import loopwatch
from seqd.daemon.flags import flags_of, storage_flags
from seqd.daemon.logrepeat import RepeatFilter
from seqd.runtime.lifeline import not_dumpable

if TYPE_CHECKING:
    from seqd.daemon.app import App

logger = logging.getLogger("seqd")

EPILOG = """\
Configuration comes from defaults < the TOML file (--config, $SEQD_CONFIG, else the
user config dir's seqd/seqd.toml) < SEQD_* environment variables < these flags.
See docs/configuration.md.

other commands:
  seqd export [-o FILE]     write the whole store as JSON Lines (backup, migration)
  seqd import FILE          load an export into the configured store (idempotent)
  (both take the storage flags: --config, --state-dir, --storage, --storage-opt)

examples:
  seqd --tasks ./tasks                     run with tasks from ./tasks
  seqd --tasks ./tasks --tools ./tools     ... and folder tools from ./tools
  seqd --socket /tmp/seqd.sock --storage fs
  seqd --storage postgres --storage-opt dsn=postgresql://postgres@127.0.0.1/seqd
  seqd export -o backup.jsonl && seqd import --storage fs backup.jsonl
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="seqd",
        description="seqd: a durable local task and flow daemon (JSON-RPC over a Unix socket).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    storage_flags(parser)
    parser.add_argument("--socket", metavar="PATH", help="Unix socket to listen on")
    parser.add_argument(
        "--tasks",
        metavar="DIR",
        action="append",
        dest="task_dirs",
        help="a task directory (repeatable; replaces the configured list)",
    )
    parser.add_argument(
        "--tools",
        metavar="DIR",
        action="append",
        dest="tool_dirs",
        help="a folder-tool directory (repeatable; replaces the configured list)",
    )
    parser.add_argument("--workers", type=int, metavar="N", help="runs executing at once")
    parser.add_argument("--node", metavar="NAME", help="this node's name (default hostname)")
    parser.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error"], help="log verbosity"
    )
    parser.add_argument("--no-watch", action="store_true", help="do not watch task dirs")
    parser.add_argument("--version", action="version", version=f"seqd {__version__}")
    return parser.parse_args(argv)


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        # journald adds timestamps; "<N>" prefixes carry the priority.
        handler.setFormatter(_JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class _JournalFormatter(logging.Formatter):
    PRIORITY = {"DEBUG": 7, "INFO": 6, "WARNING": 4, "ERROR": 3, "CRITICAL": 2}

    def format(self, record: logging.LogRecord) -> str:
        return f"<{self.PRIORITY.get(record.levelname, 6)}>{super().format(record)}"


def raise_fd_limit() -> None:
    """Many connections and worker pipes: lift the soft open-files limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass


async def serve(flags: dict[str, Any], config_file: str | None) -> int:
    from seqd.daemon.app import App

    config = load_config(flags, config_file=config_file)
    setup_logging(config.log_level)
    app = App(config)
    repeats: list[RepeatFilter] = []
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter(app.secrets))  # no secret value in the log
        repeats.append(RepeatFilter(handler.handle))  # a flood of one warning is counted
        handler.addFilter(repeats[-1])
    loop = asyncio.get_running_loop()
    flusher = loop.create_task(_flush_repeats(repeats))
    try:
        return await _run(app, config.slow_callback_ms)
    finally:
        flusher.cancel()
        for repeat in repeats:
            repeat.flush(everything=True)


async def _run(app: App, slow_callback_ms: float) -> int:
    """Start ``app``, serve until asked to stop, stop it: the exit status."""
    from seqd.daemon.errors import StartupError

    loop = asyncio.get_running_loop()
    watch = loopwatch.enable(loop, slow_callback_ms) if slow_callback_ms else None
    loop.add_signal_handler(signal.SIGTERM, app.request_stop, "SIGTERM")
    loop.add_signal_handler(signal.SIGINT, app.request_stop, "SIGINT")
    loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(app.reload()))
    try:
        await app.start()
    except StartupError as exc:
        logger.error("%s", exc)
        await app.stop()
        return exc.exit_code
    if watch is not None:
        watch.armed = True  # from here on the daemon serves: no file I/O on the loop
    await app.wait_stopped()
    if watch is not None:
        watch.armed = False
    await app.stop()
    return 0


async def _flush_repeats(filters: list[RepeatFilter]) -> None:
    """Report counted repeats once their window is over, even when the flood stopped."""
    while True:
        await asyncio.sleep(1.0)
        for repeat in filters:
            repeat.flush()


def main(argv: list[str] | None = None) -> None:
    import sys as _sys

    argv = list(_sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("export", "import"):
        from seqd.daemon.transfer_cli import main as transfer_main

        raise SystemExit(transfer_main(argv))
    args = parse_args(argv)
    setup_logging(args.log_level or "info")
    try:
        flags = flags_of(args)
        # Validate before the loop starts: a bad flag or file is a usage error (2).
        load_config(flags, config_file=args.config)
    except ConfigError as exc:
        print(f"seqd: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    raise_fd_limit()
    not_dumpable()  # tasks run as our user: keep them out of our memory and environment
    import uvloop

    code = uvloop.run(serve(flags, args.config))
    raise SystemExit(code)
