"""seqctl's ``tools`` commands: ls, show, call."""

from __future__ import annotations

from seqd.cli.inputs import build_input
from seqd.cli.output import pretty_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from seqd.cli.output import Out
    from seqd.client import Client


def tools_ls(client: Client, args: argparse.Namespace, out: Out) -> int:
    tools = client.tools()
    if out.json_mode:
        out.json(tools)
        return 0
    rows = [
        (
            t.name,
            t.source if t.source != "plugin" else f"plugin {t.plugin or '?'}",
            "yes" if t.valid else "NO",
            t.description
            if t.valid or not t.problems
            else f"{t.problems[0].where}: {t.problems[0].message}",
        )
        for t in tools
    ]
    out.table(["name", "source", "valid", "description / problem"], rows)
    return 0


def tool_show(client: Client, args: argparse.Namespace, out: Out) -> int:
    t = client.tool(args.name)
    if out.json_mode:
        out.json(t)
        return 0
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
    return 0


def tool_call(client: Client, args: argparse.Namespace, out: Out) -> int:
    params = build_input(args.params, args.items, flags=("--params", "-p"))
    answer = client.call_tool(args.name, params)
    if out.json_mode:
        out.json(answer)
    elif isinstance(answer.result, str):
        out.line(answer.result)
    else:
        out.line(pretty_json(answer.result))
    return 0
