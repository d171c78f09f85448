"""seqctl's daemon, plugin and task commands: one small function each.

Every handler takes the client, the parsed arguments and the printer and returns the
exit status; errors from the daemon propagate to ``main``, which maps them to 3 or 4.
The client is a ``Client(typed=False)``: results are ``AttrDict``s with the fields of
the Structs named in the annotations, which are for the type checker only.
"""

from __future__ import annotations

from seqd.cli.output import duration, pretty_json, size
from seqd.model.status import RUN_STATUSES

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from seqd.cli.output import Out
    from seqd.client import Client
    from seqd.model.nodes import Node
    from seqd.model.tasks import Problem, TaskDef, TaskSummary
    from seqd.rpc.status import (
        ClusterInfo,
        NodesResult,
        PluginInfo,
        ReloadResult,
        StatusResult,
        ValidateResult,
    )


def status(client: Client, args: argparse.Namespace, out: Out) -> int:
    out.result(client.status(), lambda st: out.kv(_status_rows(st)))
    return 0


ADMINS_ONLY = "(shown to admins only)"
"""What ``seqctl status`` says where the daemon hides a path from a non-admin."""


def _status_rows(st: StatusResult) -> list[tuple[str, object]]:
    runs = ", ".join(f"{st.runs[s]} {s}" for s in RUN_STATUSES if st.runs.get(s))
    others = ", ".join(f"{n} {s}" for s, n in st.runs.items() if s not in RUN_STATUSES and n)
    w = st.workers
    return [
        ("version", f"{st.version} (protocol {st.protocol})"),
        ("pid", st.pid),
        ("uptime", duration(st.uptime_s)),
        ("node", st.node),
        ("cluster", _cluster(getattr(st, "cluster", None))),
        ("storage", f"{st.storage.name} ({st.storage.location or ADMINS_ONLY})"),
        ("socket", st.socket or ADMINS_ONLY),
        ("state dir", st.state_dir or ADMINS_ONLY),
        ("task dirs", ADMINS_ONLY if st.task_dirs is None else "\n".join(st.task_dirs) or "-"),
        ("plugins", ", ".join(st.plugins) or "-"),
        ("runs", ", ".join(filter(None, [runs, others])) or "none"),
        ("workers", f"{w.busy} busy of {w.max}, {w.queued} queued"),
        ("flows", f"{w.coordinating} in progress"),
        ("tasks", st.tasks),
        ("tools", st.tools),
        ("rate limits", _rate_limits(st.rate_limits)),
        ("connections", f"{st.connections}, {st.subscriptions} event subscriptions"),
        ("rss", size(st.rss_bytes)),
        ("tracers", _tracers(getattr(st, "tracers", None) or {})),
    ]


def _cluster(info: ClusterInfo | None) -> str:
    if info is None:
        return "no (this daemon holds its store alone)"
    alive = f"{info.nodes_alive} node{'s' if info.nodes_alive != 1 else ''} alive"
    return f"{alive}; this one is {info.node_id} (lease {info.lease_s:g}s)"


def nodes(client: Client, args: argparse.Namespace, out: Out) -> int:
    headers = ["id", "host", "pid", "version", "started", "heartbeat", "runs", "workers", "alive"]
    out.result(client.nodes(), lambda result: _nodes_table(result, headers, out))
    return 0


def _nodes_table(result: NodesResult, headers: list[str], out: Out) -> None:
    out.table(headers, (_node_row(node, result.node_id) for node in result.nodes))
    if not result.shared:
        out.line("(the store is not shared: this daemon is its only node)")


def _node_row(node: Node, me: str) -> tuple[object, ...]:
    i = node.info
    name = f"{i.id} (this one)" if i.id == me else i.id
    alive = "yes" if node.alive else "no: its runs are being taken over"
    return (name, i.host, i.pid, i.version, i.started_at, node.heartbeat_at, node.runs_held,
            i.workers, alive)  # fmt: skip


def _tracers(tracers: dict[str, Any]) -> str:
    """Each tracer's delivery: events it got, and those lost (it was behind) or that
    it raised on."""
    lines = []
    for name, t in tracers.items():
        line = f"{name}: {t.delivered} delivered"
        if t.dropped or t.failed or t.queued:
            line += f", {t.queued} queued, {t.dropped} dropped, {t.failed} failed"
        lines.append(line)
    return "\n".join(lines) or "-"


def _rate_limits(info: Any) -> str:
    if not info:
        return "-"
    if info.rpc_rate_per_s:
        rpc = f"rpc {info.rpc_rate_per_s:g}/s per uid (burst {info.rpc_burst})"
        limited = sum(b.limited for b in info.rpc_clients.values())
        if limited:
            rpc += f", {limited} refused"
    else:
        rpc = "rpc unlimited"
    tools = [
        f"{name} {b.rate_per_s:g}/s (burst {b.burst}, {b.limited} refused)"
        for name, b in info.tools.items()
    ]
    return "\n".join([rpc, *tools])


def ping(client: Client, args: argparse.Namespace, out: Out) -> int:
    out.result(client.ping(), out.line)
    return 0


def reload(client: Client, args: argparse.Namespace, out: Out) -> int:
    def as_text(result: ReloadResult) -> None:
        out.line(f"reloaded: {result.tasks} tasks")
        if result.changed:
            out.line("changed: " + ", ".join(result.changed))
        if result.invalid:
            out.line(
                "invalid: " + ", ".join(result.invalid) + "  (see `seqctl tasks validate NAME`)"
            )

    out.result(client.reload(), as_text)
    return 0


def shutdown(client: Client, args: argparse.Namespace, out: Out) -> int:
    out.result(
        client.shutdown(),
        lambda result: out.line("seqd is stopping" if result.stopping else "seqd is not stopping"),
    )
    return 0


def plugins_ls(client: Client, args: argparse.Namespace, out: Out) -> int:
    headers = ["name", "version", "source", "kinds", "contributes", "error"]
    out.result(client.plugins(), lambda plugins: out.table(headers, map(_plugin_row, plugins)))
    return 0


def _plugin_row(p: PluginInfo) -> tuple[object, ...]:
    contributes = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in p.contributes.items())
    return (p.name, p.version or "", p.source, ", ".join(p.kinds), contributes, p.error or "")


def tasks_ls(client: Client, args: argparse.Namespace, out: Out) -> int:
    headers = ["name", "type", "version", "valid", "description / problem"]
    out.result(client.tasks(args.tag), lambda tasks: out.table(headers, map(_task_row, tasks)))
    return 0


def _task_row(t: TaskSummary) -> tuple[object, ...]:
    description = t.description if t.valid or not t.problems else _problem(t.problems[0])
    return (t.name, t.type or "?", (t.version or "")[:12], "yes" if t.valid else "NO", description)


def task_show(client: Client, args: argparse.Namespace, out: Out) -> int:
    out.result(client.task(args.name), lambda t: _show_task(t, out))
    return 0


def _show_task(t: TaskDef, out: Out) -> None:
    r = t.retries
    retries = f"up to {r.max}, backoff {r.backoff_s:g}s x{r.factor:g}" if r.max else "none"
    out.kv(
        [
            ("name", t.name),
            ("type", t.type or "?"),
            ("path", t.path),
            ("version", t.version or "-"),
            ("valid", "yes" if t.valid else "NO"),
            ("description", t.description or "-"),
            ("tags", ", ".join(t.tags) or "-"),
            ("timeout", duration(t.timeout_s) or "none"),
            ("retries", retries),
            ("concurrency", t.concurrency if t.concurrency is not None else "unlimited"),
            ("inputs from", t.inputs_from),
            *([("options", pretty_json(t.options))] if t.options else []),
            *([("problems", "\n".join(_problem(p) for p in t.problems))] if t.problems else []),
        ]
    )
    out.line()
    if t.inputs is None:
        out.line("input schema: none (any object is accepted)")
    else:
        out.line("input schema:")
        out.line(pretty_json(t.inputs))


def task_validate(client: Client, args: argparse.Namespace, out: Out) -> int:
    def as_text(result: ValidateResult) -> None:
        if result.ok:
            out.line(f"{args.name}: ok")
        else:
            out.line(f"{args.name}: {len(result.problems)} problem(s)")
            for p in result.problems:
                out.line("  " + _problem(p))
        for w in getattr(result, "warnings", []):  # (none from a daemon before warnings)
            out.line("  warning: " + _problem(w))

    result = client.validate(args.name)
    out.result(result, as_text)
    return 0 if result.ok else 1


def _problem(p: Problem) -> str:
    return f"{p.where}: {p.message}" if p.where else p.message
