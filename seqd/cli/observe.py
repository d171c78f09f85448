"""seqctl's ``metrics`` and ``alerts`` commands."""

from __future__ import annotations

from seqd.cli.output import short_time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from seqd.cli.output import Out
    from seqd.client import Client
    from seqd.model.alerts import AlertEvent
    from seqd.model.metrics import Family
    from seqd.rpc.observing import AlertHistoryResult, AlertInfo, MetricsResult


def metrics(client: Client, args: argparse.Namespace, out: Out) -> int:
    if args.prometheus:
        result = client.metrics("prometheus", args.prefix)
        out.stdout.write(result.text or "")
        return 0
    out.result(client.metrics("json", args.prefix), lambda r: _print_metrics(r, out))
    return 0


def _print_metrics(result: MetricsResult, out: Out) -> None:
    if not result.enabled:
        out.line("metrics are off (metrics.enabled = false): only the run counts are kept")
    rows = [row for family in result.families for row in _rows(family)]
    out.table(["metric", "value"], rows)


def _rows(family: Family) -> list[tuple[str, str]]:
    rows = []
    for s in family.series:
        labels = s.labels or {}
        name = family.name + (
            "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else ""
        )
        if family.kind == "histogram":
            count, total = s.count or 0, s.sum or 0.0
            average = f", avg {total / count:.4g}" if count else ""
            rows.append((name, f"count {count}, sum {total:.4g}{average}"))
        else:
            rows.append((name, f"{s.value:.6g}"))
    return rows


def alerts(client: Client, args: argparse.Namespace, out: Out) -> int:
    rules = client.alerts()
    recent = client.alert_history(limit=args.recent)
    if out.json_mode:
        out.json({"alerts": rules, "recent": recent.events})
        return 0
    if not rules:
        out.line("no alert rules ([[alerts.rules]] in the config: docs/observability.md)")
    else:
        out.table(["rule", "state", "since", "severity", "now"], map(_rule_row, rules))
    if recent.events:
        out.line()
        out.line("recent changes:")
        _print_events(recent.events, out)
    return 0


def _rule_row(a: AlertInfo) -> tuple[object, ...]:
    state = a.state.upper() if a.state == "firing" else a.state
    return (a.name, state, short_time(a.since) if a.since else "-", a.severity, a.message)


def alert_history(client: Client, args: argparse.Namespace, out: Out) -> int:
    def as_text(page: AlertHistoryResult) -> None:
        if not page.events:
            out.line("no alert changes")
            return
        _print_events(page.events, out)
        if page.next_before is not None:
            out.line(f"(more: --before {page.next_before})")

    out.result(client.alert_history(args.rule, args.before, args.limit), as_text)
    return 0


def _print_events(events: list[AlertEvent], out: Out) -> None:
    out.table(
        ["seq", "when", "rule", "change", "message"],
        (
            (e.seq, short_time(e.ts), e.rule, f"{e.previous} -> {e.state}", e.message)
            for e in events
        ),
    )
