// The runs page: refetch the table (with the page's filters) when a run changes.
"use strict";
(() => {
  const main = seqd.main();
  const url = main.dataset.table;
  const query = { topics: "run" };
  const params = new URLSearchParams(url.split("?")[1] || "");
  if (params.get("task")) query.task = params.get("task");
  let pending = null;
  const refresh = () => {
    if (pending) return;
    pending = setTimeout(async () => {
      pending = null;
      const response = await fetch(url, { credentials: "same-origin" });
      if (response.ok) document.getElementById("runs-table").innerHTML = await response.text();
    }, 200);
  };
  seqd.live(query, { run: refresh });
})();
