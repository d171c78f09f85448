"""seqd-web: a web dashboard for seqd, served by the daemon when ``[web] listen`` is
set. Every page acts through the daemon's own API as the logged-in user
(``DaemonInfo.api``), so it shows and does exactly what that user's role allows."""

from __future__ import annotations

import logging
from collections.abc import Callable

from seqd import hookimpl
from seqd.plugins.daemoninfo import DaemonInfo
from seqd.plugins.sections import ConfigSection, section
from seqd_web.settings import WebSettings, address, loopback

logger = logging.getLogger(__name__)

_serving: dict[str, object] = {}
"""The running dashboard of this process (one daemon per process)."""


@hookimpl
def seqd_register_config_sections(register: Callable[[ConfigSection], None]) -> None:
    register(ConfigSection("web", WebSettings))


@hookimpl
async def seqd_startup(daemon: DaemonInfo) -> None:
    settings = section(daemon.config, "web", WebSettings)
    if settings.listen is None or daemon.api is None:
        return
    from seqd_web.app import build  # starlette and uvicorn only when it serves
    from seqd_web.server import Serving

    host, port = address(settings.listen)
    local = host if loopback(host) else None
    app = build(daemon.api, settings.session_ttl_s, local)
    serving = Serving(app, host, port)
    await serving.start()
    _serving["web"] = serving
    logger.info(
        "web dashboard: http://%s:%d/", host if ":" not in host else f"[{host}]", serving.port
    )


@hookimpl
async def seqd_shutdown(daemon: DaemonInfo) -> None:
    serving = _serving.pop("web", None)
    if serving is not None:
        from seqd_web.server import Serving

        assert isinstance(serving, Serving)
        await serving.stop()
