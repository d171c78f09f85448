"""``plugins.list``: every plugin, what it contributes, and its error if it failed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from seqd.rpc.dispatch import Caller, Handler
from seqd.rpc.params import NoParams
from seqd.rpc.status import PluginInfo, PluginsResult

if TYPE_CHECKING:
    from seqd.api.context import Daemon


def handlers(app: Daemon) -> dict[str, Handler]:
    def list_plugins(params: NoParams, caller: Caller) -> PluginsResult:
        infos = [
            PluginInfo(
                name=r.name,
                version=r.version,
                source=r.source,
                kinds=sorted(r.contributes),
                contributes={k: sorted(v) for k, v in r.contributes.items()},
                error=r.error,
            )
            for r in sorted(app.host.records.values(), key=lambda r: (r.source, r.name))
        ]
        return PluginsResult(plugins=infos)

    return {"plugins.list": list_plugins}
