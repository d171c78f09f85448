// Nodes: fetch the table again every few seconds (heartbeats, held runs, dead nodes),
// while the tab is visible; at once when it becomes visible again.
"use strict";
(() => {
  const main = seqd.main();
  const every = Number(main.dataset.refresh || 3) * 1000;
  const refresh = async () => {
    if (document.hidden) return;
    let response;
    try { response = await fetch(main.dataset.table, { credentials: "same-origin" }); } catch (e) { return; }
    if (response.ok) document.getElementById("nodes-table").innerHTML = await response.text();
  };
  setInterval(refresh, every);
  document.addEventListener("visibilitychange", refresh);
})();
