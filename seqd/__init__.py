"""seqd: a durable local task and flow daemon.

Public names for plugin authors: ``hookimpl`` (mark hook implementations), the
interfaces in ``seqd.plugins`` (``storage``, ``tasktype``, ``tools``, ``tracing``,
``hookspecs``) and the error tree in ``seqd.errors``. ``hookimpl`` is created on first use so that
``import seqd`` stays cheap for the CLI.
"""

from __future__ import annotations

# Not ``typing.TYPE_CHECKING``: every seqd module imports this package, and importing
# ``typing`` costs seqctl several milliseconds of start-up. Type checkers treat any
# constant named TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    import pluggy

    hookimpl: pluggy.HookimplMarker

__version__ = "0.1.0"
PROJECT = "seqd"

__all__ = ["PROJECT", "__version__", "hookimpl"]


def __getattr__(name: str) -> Any:
    if name == "hookimpl":
        import pluggy

        marker = pluggy.HookimplMarker(PROJECT)
        globals()["hookimpl"] = marker
        return marker
    raise AttributeError(f"module 'seqd' has no attribute {name!r}")
