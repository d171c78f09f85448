"""``seqctl mcp``: read the command line and the ``[mcp]`` settings, then serve.

seqctl finds this command through the ``seqd.seqctl`` entry-point group and hands it
the command line (``seqd.cli.extensions``); seqctl's own commands never import it.
The MCP SDK is imported only once the settings are good (``seqd_mcp.server``), so a
usage or configuration error is quick and plain: a message on stderr, exit status 2.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence

import msgspec

from seqd.config.settings import ConfigError, load_config
from seqd.plugins.sections import section
from seqd.rpc.params import validation_details
from seqd_mcp.settings import SECTION, McpSettings, overridden

USAGE = 2
INTERRUPTED = 130
EPILOG = """\
The [mcp] table of seqd's config file (the daemon's: --config, else $SEQD_CONFIG, else
the usual place) says what an agent may see and do; the --allow-* and --read-task
options replace its lists. By default an agent may only read: tasks, runs, logs and
schedules. Client configuration (Claude Desktop and others):

  {"mcpServers": {"seqd": {"command": "seqctl", "args": ["mcp", "--allow-task", "etl-*"]}}}
"""


def main(argv: Sequence[str]) -> int:
    """Serve seqd to AI agents over MCP (stdio): the tasks and tools you expose."""
    parser = _parser()
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:  # --help, or a usage error argparse has printed
        return exc.code if isinstance(exc.code, int) else USAGE
    try:
        config = load_config(config_file=args.config)
        settings = overridden(
            section(config, SECTION, McpSettings),
            tasks=args.tasks,
            tools=args.tools,
            read_tasks=args.read_tasks,
        )
    except ConfigError as exc:
        print(f"seqctl mcp: error: {exc}", file=sys.stderr)
        return USAGE
    except msgspec.ValidationError as exc:
        print(f"seqctl mcp: error: {_option_error(exc)}", file=sys.stderr)
        return USAGE
    try:
        from seqd_mcp.server import serve  # the SDK: only now
    except ImportError as exc:  # seqd-mcp installed without its dependencies
        print(f"seqctl mcp: error: the MCP SDK cannot be imported ({exc}); "
              "reinstall seqd-mcp with its dependencies (pip install ./plugins/seqd-mcp)",
              file=sys.stderr)  # fmt: skip
        return USAGE
    try:
        serve(args.socket or config.socket, settings)
    except KeyboardInterrupt:
        return INTERRUPTED
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seqctl mcp",
        description=main.__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--socket", metavar="PATH", help="the daemon's socket (default: as seqctl finds it)"
    )
    parser.add_argument("--config", metavar="FILE", help="seqd's config file to read [mcp] from")
    parser.add_argument(
        "--allow-task", dest="tasks", action="append", metavar="GLOB",
        help="a task agents may run, or a pattern (etl-*); replaces [mcp] tasks (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--allow-tool", dest="tools", action="append", metavar="GLOB",
        help="a seqd tool agents may call (kv.*); replaces [mcp] tools (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--read-task", dest="read_tasks", action="append", metavar="GLOB",
        help="a task whose runs agents may read; replaces [mcp] read_tasks (repeatable)",
    )  # fmt: skip
    return parser


def _option_error(exc: msgspec.ValidationError) -> str:
    """A bad option value, named as the option (msgspec names the settings key)."""
    message, details = validation_details(exc)
    key = re.split(r"[.\[]", details["field"] or "")[0]
    option = {"tasks": "--allow-task", "tools": "--allow-tool", "read_tasks": "--read-task"}
    return f"{option[key]}: {details['reason']}" if key in option else message
