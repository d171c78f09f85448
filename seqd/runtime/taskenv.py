"""The environment of what the daemon starts: task commands, python workers (and so
task code), tool commands and the spawner.

Only variables on one allowlist (``[task_env] passthrough``, e.g. ``PATH``, ``LC_*``)
pass from the daemon's own environment; a task then adds what its config names
(``env``, secrets included). Whatever else the daemon was started with — a database
DSN with its password, systemd's hand-overs — never reaches a task. Helper processes
also get the variables the interpreter needs to find seqd (``PYTHONPATH``,
``PYTHONHOME``), nothing more.

Its own module because shell tasks, python tasks, ``shell.exec`` and the helper
processes must all apply the same list the same way.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from seqd.config.secrets import SecretRef, Secrets
from seqd.config.settings import DEFAULT_PASSTHROUGH
from seqd.errors import TaskFailed
from seqd.model.tasks import Problem

DAEMON_ONLY = frozenset(
    {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID",
     "LISTEN_FDNAMES", "CREDENTIALS_DIRECTORY"}
)  # fmt: skip
"""Hand-overs to the daemon itself (systemd's): never passed, whatever the list says."""
INTERPRETER = ("PYTHONPATH", "PYTHONHOME")
"""What a helper's interpreter may need to import seqd (not secrets: paths)."""


def passthrough(
    allowed: Iterable[str] = DEFAULT_PASSTHROUGH, source: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The variables of ``source`` (default: the daemon's environment) that ``allowed``
    lets through: a name, or ``PREFIX*`` for every name that starts with PREFIX."""
    source = os.environ if source is None else source
    exact = {name for name in allowed if not name.endswith("*")}
    prefixes = tuple(name[:-1] for name in allowed if name.endswith("*"))
    return {
        key: value
        for key, value in source.items()
        if (key in exact or (prefixes and key.startswith(prefixes))) and key not in DAEMON_ONLY
    }


def helper_env(allowed: Iterable[str] = DEFAULT_PASSTHROUGH) -> dict[str, str]:
    """The environment of a helper process (a python worker, the spawner): the
    allowlist, plus what its interpreter needs to find seqd."""
    env = passthrough(allowed)
    env.update({k: os.environ[k] for k in INTERPRETER if k in os.environ})
    return env


# -- a task's own variables --------------------------------------------------------------

TaskEnv = Mapping[str, str | SecretRef]
"""A task config's ``env``: a name → its text, or ``{"secret": "<name>"}``."""


def env_problems(env: TaskEnv, secrets: Secrets) -> list[Problem]:
    """What is wrong with a task config's ``env``: bad names, NUL characters, secrets
    the daemon does not have."""
    problems: list[Problem] = []
    for key, value in env.items():
        message = None
        if not key:
            message = "a variable name must not be empty"
        elif "=" in key or "\0" in key:
            message = f"variable name {key!r} must not contain '=' or NUL"
        elif isinstance(value, str) and "\0" in value:
            message = f"value of {key} must not contain NUL characters"
        elif isinstance(value, SecretRef) and value.secret not in secrets:
            message = f"{key}: no secret named {value.secret!r} (known: {secrets.names()})"
        if message is not None:
            problems.append(Problem(where="config.json: env", message=message))
    return problems


def task_env(env: TaskEnv, secrets: Secrets) -> dict[str, str]:
    """A task config's ``env`` as text, its secrets resolved; ``TaskFailed`` (type
    ``validation``) names a secret that is gone."""
    try:
        return secrets.resolve_all(env, "env")
    except KeyError as exc:
        raise TaskFailed("validation", str(exc.args[0]), {"field": "env"}) from None
