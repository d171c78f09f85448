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
    from seqd.model.tasks import Problem


def status(client: Client, args: argparse.Namespace, out: Out) -> int:
    st = client.status()
    if out.json_mode:
        out.json(st)
        return 0
    runs = ", ".join(f"{st.runs[s]} {s}" for s in RUN_STATUSES if st.runs.get(s))
    others = ", ".join(f"{n} {s}" for s, n in st.runs.items() if s not in RUN_STATUSES and n)
    w = st.workers
    out.kv(
        [
            ("version", f"{st.version} (protocol {st.protocol})"),
            ("pid", st.pid),
            ("uptime", duration(st.uptime_s)),
            ("node", st.node),
            ("storage", f"{st.storage.name} ({st.storage.location})"),
            ("socket", st.socket),
            ("state dir", st.state_dir),
            ("task dirs", "\n".join(st.task_dirs) or "-"),
            ("plugins", ", ".join(st.plugins) or "-"),
            ("runs", ", ".join(filter(None, [runs, others])) or "none"),
            ("workers", f"{w.busy} busy of {w.max}, {w.queued} queued"),
            ("flows", f"{w.coordinating} in progress"),
            ("tasks", st.tasks),
            ("tools", st.tools),
            ("rate limits", _rate_limits(st.rate_limits)),
            ("connections", st.connections),
            ("rss", size(st.rss_bytes)),
        ]
    )
    return 0


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
    answer = client.ping()
    if out.json_mode:
        out.json(answer)
    else:
        out.line(answer)
    return 0


def reload(client: Client, args: argparse.Namespace, out: Out) -> int:
    result = client.reload()
    if out.json_mode:
        out.json(result)
        return 0
    out.line(f"reloaded: {result.tasks} tasks")
    if result.changed:
        out.line("changed: " + ", ".join(result.changed))
    if result.invalid:
        out.line("invalid: " + ", ".join(result.invalid) + "  (see `seqctl tasks validate NAME`)")
    return 0


def shutdown(client: Client, args: argparse.Namespace, out: Out) -> int:
    result = client.shutdown()
    if out.json_mode:
        out.json(result)
    else:
        out.line("seqd is stopping" if result.stopping else "seqd is not stopping")
    return 0


def plugins_ls(client: Client, args: argparse.Namespace, out: Out) -> int:
    plugins = client.plugins()
    if out.json_mode:
        out.json(plugins)
        return 0
    rows = [
        (
            p.name,
            p.version or "",
            p.source,
            ", ".join(p.kinds),
            "; ".join(f"{kind}: {', '.join(names)}" for kind, names in p.contributes.items()),
            p.error or "",
        )
        for p in plugins
    ]
    out.table(["name", "version", "source", "kinds", "contributes", "error"], rows)
    return 0


def tasks_ls(client: Client, args: argparse.Namespace, out: Out) -> int:
    tasks = client.tasks(args.tag)
    if out.json_mode:
        out.json(tasks)
        return 0
    rows = [
        (
            t.name,
            t.type or "?",
            (t.version or "")[:12],
            "yes" if t.valid else "NO",
            t.description if t.valid or not t.problems else _problem(t.problems[0]),
        )
        for t in tasks
    ]
    out.table(["name", "type", "version", "valid", "description / problem"], rows)
    return 0


def task_show(client: Client, args: argparse.Namespace, out: Out) -> int:
    t = client.task(args.name)
    if out.json_mode:
        out.json(t)
        return 0
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
    return 0


def task_validate(client: Client, args: argparse.Namespace, out: Out) -> int:
    result = client.validate(args.name)
    if out.json_mode:
        out.json(result)
    elif result.ok:
        out.line(f"{args.name}: ok")
    else:
        out.line(f"{args.name}: {len(result.problems)} problem(s)")
        for p in result.problems:
            out.line("  " + _problem(p))
    return 0 if result.ok else 1


def _problem(p: Problem) -> str:
    return f"{p.where}: {p.message}" if p.where else p.message
