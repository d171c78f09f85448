// One run: its log lines and status, live. Lines already on the page (up to
// data-after) are skipped; the rest are appended as they arrive.
"use strict";
(() => {
  const main = seqd.main();
  const logs = document.getElementById("logs");
  let after = Number(main.dataset.after || 0);
  const ended = ["succeeded", "failed", "cancelled"];
  const append = (event) => {
    for (const line of event.lines) {
      if (line.seq <= after) continue;
      after = line.seq;
      const span = document.createElement("span");
      span.className = "log " + line.stream;
      span.dataset.seq = line.seq;
      span.textContent = line.ts.slice(11, 23) + " " + line.text + "\n";
      logs.appendChild(span);
    }
    logs.scrollTop = logs.scrollHeight;
  };
  const status = (event) => {
    const run = event.run;
    if (run.id !== main.dataset.run) return;
    const box = document.getElementById("run-status");
    box.innerHTML = "";
    const span = document.createElement("span");
    span.className = "status s-" + run.status;
    span.textContent = run.status;
    box.appendChild(span);
    const node = document.getElementById("run-node"); // as run.py's node_of
    if (node) node.textContent = ["queued", "suspended"].includes(run.status) ? "" : run.node || "";
    if (run.status !== main.dataset.status && ended.includes(run.status)) {
      setTimeout(() => window.location.reload(), 300); // output, error, actions
    }
    main.dataset.status = run.status;
  };
  const query = { topics: main.dataset.topics, run_id: main.dataset.run };
  if (logs) query.tail = "1000"; // else the logs are not this user's to see
  seqd.live(query, { log: append, run: status });
})();
