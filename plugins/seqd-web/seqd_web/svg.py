"""Pictures drawn on the server as SVG: a trace's waterfall and a flow's graph.

Plain SVG with presentation attributes and CSS classes (no style attributes, no
script), so the page's CSP needs nothing special and the picture works without JS."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from seqd.model.timeutil import parse_ts
from seqd_web.render import esc, url

ROW = 22
LABEL = 260
WIDTH = 900


def waterfall(spans: Sequence[dict[str, Any]]) -> str:
    """One bar per span, indented under its parent, placed on the trace's timeline."""
    if not spans:
        return "<p>no spans</p>"
    starts = [parse_ts(s["start"]) for s in spans]
    ends = [parse_ts(s["end"]) if s.get("end") else max(starts) for s in spans]
    t0, t1 = min(starts), max(max(ends), max(starts))
    scale = (WIDTH - LABEL - 70) / max(t1 - t0, 1e-6)  # room for the duration
    depth: dict[str, int] = {}
    parts = []
    for i, (span, start, end) in enumerate(zip(spans, starts, ends, strict=True)):
        level = depth.get(span.get("parent_span_id") or "", -1) + 1
        depth[span["span_id"]] = level
        y = i * ROW
        x = LABEL + (start - t0) * scale
        w = max((end - start) * scale, 2)
        css = "bar failed" if span.get("failed") else f"bar {esc(span['kind'])}"
        title = f"{span['name']} · {span['outcome']} · {end - start:.3f}s"
        parts.append(
            f'<a href="{url("runs", span["run_id"])}"><g class="span">'
            f"<title>{esc(title)}</title>"
            f'<text x="{4 + level * 12}" y="{y + 15}">{esc(span["name"][:40])}</text>'
            f'<rect class="{css}" x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="{ROW - 8}"/>'
            f'<text class="dur" x="{x + w + 4:.1f}" y="{y + 15}">'
            f"{(end - start) * 1000:.0f} ms</text></g></a>"
        )
    height = len(spans) * ROW + 4
    return (
        f'<svg class="waterfall" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
        f'height="{height}" role="img" aria-label="trace waterfall">{"".join(parts)}</svg>'
    )


def state_status(steps: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Each state's latest status from a flow run's journal."""
    found: dict[str, str] = {}
    for step in steps:
        if step.get("kind") == "state" and step.get("name"):
            found[step["name"]] = step.get("status") or "started"
    return found


def _edges(name: str, state: dict[str, Any]) -> list[str]:
    """The states a state may go on to: ``next``, choices, branches' defaults."""
    out = [state["next"]] if isinstance(state.get("next"), str) else []
    for choice in state.get("choices") or []:
        if isinstance(choice, dict) and isinstance(choice.get("next"), str):
            out.append(choice["next"])
    if isinstance(state.get("default"), str):
        out.append(state["default"])
    return out


def flow_graph(states: dict[str, dict[str, Any]], steps: Sequence[dict[str, Any]]) -> str:
    """The flow's states in layers (breadth first from the first), each coloured by its
    status in this run, with arrows for the transitions."""
    status = state_status(steps)
    if not states:
        states = {name: {} for name in status}
    if not states:
        return "<p>this run has no flow states</p>"
    names = list(states)
    layer: dict[str, int] = {names[0]: 0}
    queue = [names[0]]
    while queue:
        name = queue.pop(0)
        for target in _edges(name, states.get(name) or {}):
            if target in states and target not in layer:
                layer[target] = layer[name] + 1
                queue.append(target)
    for name in names:
        layer.setdefault(name, max(layer.values()) + 1)
    columns: dict[int, list[str]] = {}
    for name in names:
        columns.setdefault(layer[name], []).append(name)
    box_w, box_h, gap_x, gap_y = 150, 40, 60, 20
    pos = {
        name: (20 + col * (box_w + gap_x), 20 + row * (box_h + gap_y))
        for col, members in columns.items()
        for row, name in enumerate(members)
    }
    arrows = []
    for name in names:
        x, y = pos[name]
        for target in _edges(name, states.get(name) or {}):
            if target in pos:
                tx, ty = pos[target]
                arrows.append(
                    f'<line class="edge" x1="{x + box_w}" y1="{y + box_h / 2}" '
                    f'x2="{tx}" y2="{ty + box_h / 2}" marker-end="url(#arrow)"/>'
                )
    boxes = []
    for name in names:
        x, y = pos[name]
        st = status.get(name, "pending")
        boxes.append(
            f'<g class="state st-{esc(st)}" data-state="{esc(name)}"><title>{esc(name)}: '
            f'{esc(st)}</title><rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="6"/>'
            f'<text x="{x + 8}" y="{y + 17}">{esc(name[:20])}</text>'
            f'<text class="sub" x="{x + 8}" y="{y + 32}">{esc(st)}</text></g>'
        )
    width = 40 + (max(columns) + 1) * (box_w + gap_x)
    height = 40 + max(len(m) for m in columns.values()) * (box_h + gap_y)
    marker = (
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>'
    )
    return (
        f'<svg class="flow" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="flow graph">{marker}{"".join(arrows)}{"".join(boxes)}</svg>'
    )
