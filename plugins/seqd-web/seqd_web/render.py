"""HTML of the dashboard's pages, built as escaped strings.

Every value that came from the daemon goes through ``esc`` (or ``attr``); the markup
has no inline script and no style attribute, so the page's CSP can forbid both.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any
from urllib.parse import quote

NAV = (
    ("/runs", "Runs"),
    ("/tasks", "Tasks"),
    ("/schedules", "Schedules"),
    ("/metrics", "Metrics"),
    ("/alerts", "Alerts"),
    ("/nodes", "Nodes"),
)


def esc(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def url(*parts: str) -> str:
    """A path from parts, each quoted (task and schedule names may hold dots)."""
    return "/" + "/".join(quote(p, safe="") for p in parts)


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def page(
    title: str,
    body: str,
    *,
    csrf: str = "",
    who: str = "",
    scripts: Sequence[str] = (),
    data: dict[str, str] | None = None,
) -> str:
    """A whole page: nav, ``body``, and the scripts it needs (all from /static).
    ``data`` become ``data-*`` attributes of ``<main>``, how a page's script learns its
    run id or filters without inline script."""
    nav = "".join(f'<a href="{href}">{esc(text)}</a>' for href, text in NAV)
    attrs = "".join(f' data-{k}="{esc(v)}"' for k, v in (data or {}).items())
    tags = "".join(f'<script src="/static/{esc(s)}" defer></script>' for s in scripts)
    logout = (
        f'<form method="post" action="/logout" class="logout">{csrf_field(csrf)}'
        f'<span class="who">{esc(who)}</span><button>Log out</button></form>'
        if csrf
        else ""
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)} · seqd</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="csrf-token" content="{esc(csrf)}">'
        '<link rel="icon" href="data:,"><link rel="stylesheet" href="/static/style.css">'
        f'<script src="/static/common.js" defer></script>{tags}</head><body>'
        f'<header><span class="brand">seqd</span><nav>{nav}</nav>{logout}</header>'
        f'<main id="main"{attrs}><h1>{esc(title)}</h1>{body}</main></body></html>'
    )


def csrf_field(csrf: str) -> str:
    return f'<input type="hidden" name="csrf" value="{esc(csrf)}">'


def action(href: str, label: str, csrf: str, *, fields: str = "", css: str = "") -> str:
    """A button that POSTs to ``href`` with the session's CSRF token."""
    return (
        f'<form method="post" action="{esc(href)}" class="inline {css}">'
        f"{csrf_field(csrf)}{fields}<button>{esc(label)}</button></form>"
    )


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    body_id: str = "",
    row_attrs: Sequence[str] = (),
) -> str:
    """Rows are already HTML (escape their values); ``row_attrs[i]`` (escaped
    attributes, with a leading space) go into row i's ``<tr>``."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    tbody = "".join(
        f"<tr{row_attrs[i] if i < len(row_attrs) else ''}>"
        + "".join(f"<td>{c}</td>" for c in row)
        + "</tr>"
        for i, row in enumerate(rows)
    )
    ident = f' id="{esc(body_id)}"' if body_id else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody{ident}>{tbody}</tbody></table>"


def status(value: object) -> str:
    return f'<span class="status s-{esc(value)}">{esc(value)}</span>'


def definition(items: Iterable[tuple[str, str]]) -> str:
    """A ``<dl>`` of (term, HTML) pairs."""
    return "<dl>" + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in items) + "</dl>"


def when(ts: object) -> str:
    """An RFC 3339 UTC time as ``2026-01-02 03:04:05`` (the full one on hover)."""
    if not isinstance(ts, str) or len(ts) < 19:
        return esc(ts or "")
    return f'<time datetime="{esc(ts)}" title="{esc(ts)}">{esc(ts[:10])} {esc(ts[11:19])}</time>'


def num(value: object) -> str:
    """A measured value, to four significant digits."""
    return esc(f"{value:.4g}") if isinstance(value, float) else esc(value)


def code(value: Any) -> str:
    return f"<pre>{esc(pretty(value))}</pre>"
