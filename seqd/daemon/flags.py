"""The command-line flags that choose and configure a store, shared by the daemon and
the ``seqd export`` / ``seqd import`` commands, and the config layer they make."""

from __future__ import annotations

import argparse
from typing import Any

from seqd.config.settings import ConfigError


def storage_flags(parser: argparse.ArgumentParser) -> None:
    """The flags that choose a store, shared by the daemon, export and import."""
    parser.add_argument("--config", metavar="FILE", help="TOML config file")
    parser.add_argument("--state-dir", metavar="DIR", help="where the store and run files live")
    parser.add_argument(
        "--storage", metavar="NAME", help="storage backend: sqlite (default), fs, postgres..."
    )
    parser.add_argument(
        "--storage-opt",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="an option of the chosen backend, e.g. dsn=... or path=... (repeatable); "
        "VALUE is JSON if it parses as JSON, else a string",
    )
    parser.add_argument(
        "--durability",
        choices=["normal", "full"],
        help="normal: survives a process crash; full: also a power loss",
    )


def storage_options(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` flags into a dict; VALUE is JSON when it parses, else text."""
    import msgspec

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--storage-opt {pair!r}: expected KEY=VALUE")
        try:
            options[key] = msgspec.json.decode(value)
        except msgspec.DecodeError:
            options[key] = value
    return options


def flags_of(args: argparse.Namespace) -> dict[str, Any]:
    """The config layer given on the command line."""
    flags: dict[str, Any] = {
        "state_dir": args.state_dir,
        "storage": args.storage,
        "durability": args.durability,
    }
    for name in ("socket", "task_dirs", "tool_dirs", "workers", "node", "log_level"):
        flags[name] = getattr(args, name, None)
    if getattr(args, "no_watch", False):
        flags["watch"] = False
    options = storage_options(args.storage_opt)
    if options:
        # Applies to the backend chosen by --storage (or by the lower layers).
        flags["_storage_opts"] = options
    return flags
