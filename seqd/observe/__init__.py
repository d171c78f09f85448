"""Metrics and alerts: the registry every part of the daemon records into
(``registry``), what is recorded about runs (``runs``), RPC, tool and storage calls
(``calls``), task metrics (``custom``), schedules (``schedules``) and the process
(``gauges``); the Prometheus text format (``exposition``) and HTTP exporter
(``exporter``); alert rules' conditions (``conditions``), their engine (``alerts``)
and notifications (``notify``); and ``hub``, which assembles them from the config.

In the layers it sits just above ``seqd.plugins``, below ``seqd.flow | seqd.runtime``:
the engine, the tools and storage record into it; what it needs from above (a way to
submit runs, the plugins' ``seqd_alert`` hook) the daemon hands it at assembly.
Exporter plugins read metrics through ``seqd.plugins.metrics.MetricsReader``, never
by importing this package.

May import: ``seqd.plugins``, ``seqd.config``, ``seqd.rpc``, ``seqd.model``,
``seqd.errors``.
"""
