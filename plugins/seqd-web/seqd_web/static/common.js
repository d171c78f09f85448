// Shared by every page: the session's CSRF token (from its meta tag), calls to the
// daemon's API through /rpc/METHOD, and live events through /events.
"use strict";
window.seqd = {
  csrf() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  },
  async call(method, params) {
    const response = await fetch("/rpc/" + encodeURIComponent(method), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": seqd.csrf() },
      body: JSON.stringify(params || {}),
    });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body.result;
  },
  // Subscribe to events (query: topics, run_id, task, status, tail); handlers by topic.
  live(query, handlers) {
    const source = new EventSource("/events?" + new URLSearchParams(query));
    for (const [topic, handle] of Object.entries(handlers)) {
      source.addEventListener(topic, (e) => handle(JSON.parse(e.data)));
    }
    source.addEventListener("cut", () => source.close());
    return source;
  },
  main() { return document.getElementById("main"); },
};
// Destructive buttons ask first.
document.addEventListener("submit", (e) => {
  if (e.target.classList.contains("danger") && !window.confirm("Are you sure?")) e.preventDefault();
});
