// Metrics: sample metrics.get every 5 s while the page is open and draw one small SVG
// chart per series (counters as a rate per second, gauges as they are; histograms by
// their count rate).
"use strict";
(() => {
  const KEEP = 120;
  const history = new Map(); // series key -> {kind, points: [[t, v]]}
  const svgNS = "http://www.w3.org/2000/svg";
  const keyOf = (name, labels) => {
    const parts = Object.entries(labels || {}).map(([k, v]) => k + "=" + v).sort();
    return parts.length ? name + "{" + parts.join(",") + "}" : name;
  };
  const sample = async () => {
    let result;
    try { result = await seqd.call("metrics.get", {}); } catch (e) { return; }
    const now = Date.now() / 1000;
    for (const family of result.families || []) {
      for (const series of family.series || []) {
        const value = family.kind === "histogram" ? series.count : series.value;
        if (typeof value !== "number") continue;
        const key = keyOf(family.name, series.labels);
        if (!history.has(key)) history.set(key, { kind: family.kind, help: family.help, points: [] });
        const h = history.get(key);
        h.points.push([now, value]);
        if (h.points.length > KEEP) h.points.shift();
      }
    }
    draw();
  };
  const values = (h) => {
    if (h.kind === "gauge") return h.points.map(([t, v]) => [t, v]);
    const out = [];
    for (let i = 1; i < h.points.length; i++) {
      const [t0, v0] = h.points[i - 1];
      const [t1, v1] = h.points[i];
      out.push([t1, Math.max(0, (v1 - v0) / Math.max(t1 - t0, 1e-3))]);
    }
    return out;
  };
  const chart = (key, h) => {
    const pts = values(h);
    const box = document.createElement("figure");
    box.className = "chart";
    const caption = document.createElement("figcaption");
    const last = pts.length ? pts[pts.length - 1][1] : 0;
    caption.textContent = key + (h.kind === "gauge" ? "" : " /s") + ": " + Number(last.toPrecision(4));
    caption.title = h.help || "";
    const svg = document.createElementNS(svgNS, "svg");
    svg.setAttribute("viewBox", "0 0 240 60");
    svg.setAttribute("width", "240");
    svg.setAttribute("height", "60");
    if (pts.length > 1) {
      const t0 = pts[0][0], t1 = pts[pts.length - 1][0];
      const max = Math.max(...pts.map((p) => p[1]), 1e-9);
      const top = document.createElementNS(svgNS, "text");
      top.setAttribute("x", "2");
      top.setAttribute("y", "10");
      top.setAttribute("class", "max");
      top.textContent = "max " + Number(max.toPrecision(3));
      svg.appendChild(top);
      const line = document.createElementNS(svgNS, "polyline");
      line.setAttribute("class", "line");
      line.setAttribute("points", pts.map(([t, v]) =>
        (((t - t0) / Math.max(t1 - t0, 1e-3)) * 236 + 2).toFixed(1) + "," + (58 - (v / max) * 54).toFixed(1)).join(" "));
      svg.appendChild(line);
    }
    box.appendChild(svg);
    box.appendChild(caption);
    return box;
  };
  // Series that never moved are hidden unless asked for; the filter matches names.
  const idle = (h) => h.points.every(([, v]) => v === h.points[0][1]);
  const draw = () => {
    const root = document.getElementById("charts");
    const text = document.getElementById("metric-filter").value.trim();
    const all = document.getElementById("metric-idle").checked;
    const shown = [...history.entries()].sort()
      .filter(([k, h]) => k.includes(text) && (all || !idle(h)));
    root.replaceChildren(...shown.map(([k, h]) => chart(k, h)));
    document.getElementById("metric-count").textContent = shown.length + " of " + history.size + " series";
  };
  document.getElementById("metric-filter").addEventListener("input", draw);
  document.getElementById("metric-idle").addEventListener("change", draw);
  sample();
  setTimeout(sample, 1000); // a second reading soon, so rates show at once
  setInterval(sample, 5000);
})();
