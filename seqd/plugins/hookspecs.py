"""Every hook a seqd plugin may implement.

Contribution hooks receive a ``register`` callable and call it once per thing they add;
the host records which plugin added what (``seqctl plugins ls`` shows it) and rejects a
duplicate name, naming both plugins. Lifecycle hooks are told when the daemon starts
and stops. Hooks only ever gain arguments; none is renamed or removed.

Implement them with ``@seqd.hookimpl`` in a module or class, and publish the module
through the ``seqd`` entry-point group::

    [project.entry-points.seqd]
    myplugin = "myplugin"
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

from seqd import PROJECT

if TYPE_CHECKING:
    from seqd.model.alerts import AlertEvent
    from seqd.plugins.daemoninfo import DaemonInfo
    from seqd.plugins.sections import ConfigSection
    from seqd.plugins.storage import StorageFactory
    from seqd.plugins.tasktype import TaskType
    from seqd.plugins.tools import Tool
    from seqd.plugins.tracing import Tracer

hookspec = pluggy.HookspecMarker(PROJECT)


# -- contributions (called once, when the plugin host is built) ----------------------


@hookspec
def seqd_register_storage_backends(register: Callable[[StorageFactory], None]) -> None:
    """Add storage backends.

    :param register: call with a ``seqd.plugins.storage.StorageFactory``; its ``name`` is what
        ``--storage`` / ``storage =`` selects. Options come from ``[backends.<name>]``.
    """


@hookspec
def seqd_register_task_types(register: Callable[[TaskType], None]) -> None:
    """Add task types.

    :param register: call with a ``seqd.plugins.tasktype.TaskType``; its ``name`` is the value
        of ``"type"`` in a task's ``config.json``. Options come from
        ``[task_types.<name>]`` in the daemon config.
    """


@hookspec
def seqd_register_tools(register: Callable[[Tool], None]) -> None:
    """Add tools.

    :param register: call with a ``seqd.plugins.tools.Tool``; its dotted ``name`` is how task
        code, flows and ``seqctl tools call`` reach it.
    """


@hookspec
def seqd_register_tracers(register: Callable[[Tracer], None]) -> None:
    """Add tracers.

    :param register: call with a ``seqd.plugins.tracing.Tracer``; it receives every lifecycle
        event (run transitions, storage calls, daemon start/stop).
    """


@hookspec
def seqd_register_config_sections(register: Callable[[ConfigSection], None]) -> None:
    """Add top-level tables to the daemon's config file.

    :param register: call with a ``seqd.plugins.sections.ConfigSection``; ``[name]`` in
        the config file is then checked against its ``type`` when the daemon starts (an
        unknown or invalid table stops it with exit status 2). Read it with
        ``seqd.plugins.sections.section(daemon.config, name, type)``.
    """


# -- lifecycle -----------------------------------------------------------------------


@hookspec
def seqd_startup(daemon: DaemonInfo) -> None:
    """Called once the daemon has opened storage, started the task types and loaded
    the tasks; before unfinished runs resume and before it accepts connections.
    May be ``async def``; the host awaits it. An exception is logged with the
    plugin's name and does not stop the daemon.

    :param daemon: read-only facts: version, node, socket path, state dir, config.
    """


@hookspec
def seqd_shutdown(daemon: DaemonInfo) -> None:
    """Called once when the daemon stops, after runs ended and before storage closes.
    May be ``async def``; exceptions are logged and ignored.

    :param daemon: as for ``seqd_startup``.
    """


# -- alerts --------------------------------------------------------------------------


@hookspec
def seqd_alert(alert: AlertEvent) -> None:
    """Called when an alert fires or resolves (docs/observability.md#alerts), after the
    event is stored. May be ``async def`` (the host awaits it for up to 30 s, apart
    from the daemon's other work); a sync one runs on the event loop and must be quick.
    Exceptions are logged with the plugin's name and ignored.

    :param alert: the stored event: ``rule``, ``state`` (``firing`` or ``resolved``),
        ``previous``, ``severity``, ``value``, ``message``, ``details``, ``ts``, ``seq``.
    """
