// Alerts: reload when an alert changes state.
"use strict";
seqd.live({ topics: "alerts" }, { alerts: () => window.location.reload() });
