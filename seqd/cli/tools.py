"""seqctl's ``tools`` commands: ls, show, call."""

from __future__ import annotations

from seqd.cli.inputs import build_input
from seqd.cli.output import pretty_json, text_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from seqd.cli.output import Out
    from seqd.client import Client
    from seqd.rpc.tools import ToolInfo


def tools_ls(client: Client, args: argparse.Namespace, out: Out) -> int:
    headers = ["name", "source", "valid", "description / problem"]
    out.result(client.tools(), lambda tools: out.table(headers, map(_tool_row, tools)))
    return 0


def _tool_row(t: ToolInfo) -> tuple[object, ...]:
    source = t.source if t.source != "plugin" else f"plugin {t.plugin or '?'}"
    description = t.description
    if not t.valid and t.problems:
        description = f"{t.problems[0].where}: {t.problems[0].message}"
    return (t.name, source, "yes" if t.valid else "NO", description)


def tool_show(client: Client, args: argparse.Namespace, out: Out) -> int:
    out.result(client.tool(args.name), lambda t: _show_tool(t, out))
    return 0


def _show_tool(t: ToolInfo, out: Out) -> None:
    rate = t.rate
    out.kv(
        [
            ("name", t.name),
            ("source", t.source),
            *([("plugin", t.plugin)] if t.plugin else []),
            *([("path", t.path)] if t.path else []),
            *([("version", t.version)] if t.version else []),
            ("valid", "yes" if t.valid else "NO"),
            ("description", t.description or "-"),
            ("rate limit", f"{rate.rate_per_s:g}/s, burst {rate.burst}" if rate else "none"),
            ("over RPC", "admins only" if t.admin_only else "anyone who may use the socket"),
            *(
                [("problems", "\n".join(f"{p.where}: {p.message}" for p in t.problems))]
                if t.problems
                else []
            ),
        ]
    )
    out.line()
    out.line("params schema:")
    out.line(pretty_json(t.params_schema))
    out.line("result schema:")
    out.line(pretty_json(t.result_schema))


def tool_call(client: Client, args: argparse.Namespace, out: Out) -> int:
    params = build_input(args.params, args.items, flags=("--params", "-p"))
    out.result(
        client.call_tool(args.name, params),
        lambda answer: out.line(text_of(answer.result, pretty_json)),
    )
    return 0
