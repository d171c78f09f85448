"""Daemon configuration: defaults < TOML file < ``SEQD_*`` environment < flags.

Every layer is validated by the same Struct, so a wrong type or a misspelt key in any of
them is a clear error naming the key, before the daemon touches anything.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from seqd.config import paths
from seqd.config.observe import AlertsSettings, MetricsSettings
from seqd.config.secrets import HeaderValue
from seqd.errors import ValidationFailed
from seqd.model.durations import parse_duration
from seqd.model.roles import Role
from seqd.rpc.protocol import DEFAULT_MAX_LINE_BYTES


class ConfigError(Exception):
    """The configuration is unusable; the message says which key and why."""


class Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class Limits(Section, kw_only=True):
    max_line_bytes: Annotated[int, Meta(ge=1024)] = DEFAULT_MAX_LINE_BYTES
    """Longest JSON-RPC line accepted; longer gets an error and the connection closes."""
    max_connections: Annotated[int, Meta(ge=1)] = 4096
    log_cap_bytes: Annotated[int, Meta(ge=1024)] = 10 * 1024 * 1024
    """Log bytes kept per run; past it lines are dropped and the overflow is noted."""
    max_input_bytes: Annotated[int, Meta(ge=1024)] = 1024 * 1024
    """Largest run input and output accepted, once encoded as JSON."""
    rpc_rate_per_s: Annotated[float, Meta(ge=0)] = 0.0
    """Requests per second each client uid may send (a token bucket); 0: no limit."""
    rpc_burst: Annotated[int, Meta(ge=1)] = 200
    """How many requests a client uid may send at once before ``rpc_rate_per_s`` applies."""


class Access(Section, kw_only=True):
    admin_uids: list[int] = []
    """Besides root and the daemon's own user, who are admins (role ``admin``)."""
    users: dict[str, Role] = {}
    """A user name or uid → its role."""
    groups: dict[str, Role] = {}
    """A group name or gid → the role of its members (the peer's primary and
    supplementary groups)."""
    default_role: Role = "reader"
    """The role of a peer no ``users``/``groups`` entry names."""
    share_run_data: bool = False
    """Whether non-admins see other users' runs' inputs, outputs, errors, logs and
    journals (else only their own)."""
    socket_mode: Annotated[int, Meta(ge=0, le=0o777)] = 0o660
    socket_group: str | None = None


class ToolRate(Section, kw_only=True):
    """``[tools.rates."<tool>"]``: a token bucket shared by every caller of one tool."""

    rate_per_s: Annotated[float, Meta(gt=0)]
    burst: Annotated[int, Meta(ge=1)] = 10


class TaskToolPolicy(Section, kw_only=True):
    """``[tools.tasks.<task>]``: what the runs of one task may reach."""

    http_allow_hosts: list[str] | None = None
    """Overrides ``tools.http_allow_hosts`` for this task's runs."""
    http_allow_networks: list[str] | None = None
    """Overrides ``tools.http_allow_networks`` for this task's runs."""


DEFAULT_TOOL_ROLES: dict[str, Role] = {
    "shell.exec": "admin",
    "http.request": "admin",
    "file.*": "admin",
}
"""Tools that run commands, reach the network or touch files: admins only, unless
``[tools.roles]`` says otherwise."""


class Tools(Section, kw_only=True):
    files_dir: str | None = None
    """Root of the ``task`` and ``global`` scopes of ``file.*`` (default
    ``<state_dir>/tool-files``): ``tasks/<task>/`` and ``global/`` below it."""
    rpc_file_access: Literal["global", "none"] = "global"
    """What ``file.*`` may reach when called over RPC (``seqctl tools call``)."""
    http_allow_hosts: list[str] | None = None
    """Hosts ``http.request`` may reach (``*.example.com`` for subdomains); unset: any."""
    http_max_response_bytes: Annotated[int, Meta(ge=1)] = 10 * 1024 * 1024
    http_max_timeout_s: Annotated[float, Meta(gt=0)] = 300.0
    file_max_bytes: Annotated[int, Meta(ge=1)] = 10 * 1024 * 1024
    """Largest file ``file.read`` returns and ``file.write`` writes."""
    shell_max_output_bytes: Annotated[int, Meta(ge=1)] = 1024 * 1024
    """Output ``shell.exec`` returns per stream; the rest is cut (``*_truncated``)."""
    shell_max_timeout_s: Annotated[float, Meta(gt=0)] = 3600.0
    roles: dict[str, Role] = {}
    """Tool name (or ``<category>.*``) → the least role that may call it, over RPC and
    from runs (a run acts with its submitter's role); on top of ``DEFAULT_TOOL_ROLES``.
    Other tools: ``operator``."""
    admin_only: list[str] = []
    """Deprecated: the same as ``roles = {"<tool>" = "admin"}``."""
    http_allow_private: bool = False
    """Let ``http.request`` reach loopback, private, link-local, unique-local,
    multicast and other non-global addresses."""
    http_allow_networks: list[str] = []
    """Networks (CIDR) ``http.request`` may reach even though they are not global."""
    http_headers: dict[str, dict[str, HeaderValue]] = {}
    """Host (``*.example.com`` for subdomains) → headers ``http.request`` adds to
    requests to it; a value may be ``{secret = "name"}``."""
    kv_cache_entries: Annotated[int, Meta(ge=0)] = 4096
    """Entries of the LRU cache in front of the key-value store; 0 turns it off."""
    rates: dict[str, ToolRate] = {}
    tasks: dict[str, TaskToolPolicy] = {}


KEEP_FOREVER = "forever"


class Retention(Section, kw_only=True):
    """``[retention]``: how long finished runs are kept, by the status their tree's root
    ended in (a run another run started goes with it), and how the daemon prunes."""

    succeeded: str = "30d"
    """A duration (``"7d"``, ``"12h"``: ``seqd.model.durations``), or ``"forever"``;
    ``"0s"`` prunes runs as soon as they (and their whole tree) finished."""
    failed: str = "30d"
    cancelled: str = "30d"
    every: str = "1h"
    """How often the daemon prunes (the first pass a minute after it starts)."""
    batch: Annotated[int, Meta(ge=1, le=10_000)] = 200
    """Runs examined per storage call: each call is short, and others go between them."""

    def __post_init__(self) -> None:
        for status in ("succeeded", "failed", "cancelled"):
            self.keep_s(status)
        if self.every_s() < 1:
            raise ValueError("retention.every: at least 1s")

    def keep_s(self, status: str) -> float | None:
        """Seconds runs ending in ``status`` are kept; None: forever."""
        value = getattr(self, status)
        if value == KEEP_FOREVER:
            return None
        try:
            return _seconds(value, f"retention.{status}")
        except ValueError as exc:
            raise ValueError(f"{exc}; or {KEEP_FOREVER!r} to keep them") from None

    def every_s(self) -> float:
        return _seconds(self.every, "retention.every")


def _seconds(text: str, field: str) -> float:
    """``parse_duration``, failing as msgspec wants a Struct's own check to fail."""
    try:
        return parse_duration(text, field)
    except ValidationFailed as exc:
        raise ValueError(exc.message) from None


class SchedulerSettings(Section, kw_only=True):
    """``[scheduler]``: how schedules are read and what counts as a missed fire."""

    timezone: str | None = None
    """IANA zone of schedules without ``tz`` (default: the machine's, ``$TZ`` or
    ``/etc/localtime``)."""
    misfire_grace_s: Annotated[float, Meta(ge=0, le=86400)] = 60.0
    """A fire handled later than this after its time (the daemon was down or stalled)
    is missed: its schedule's misfire policy decides whether it runs."""


DEFAULT_PASSTHROUGH = ("PATH", "HOME", "LANG", "LC_*", "TZ", "TMPDIR", "USER", "LOGNAME")


class TaskEnv(Section, kw_only=True):
    passthrough: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_PASSTHROUGH))
    """Variables of the daemon's environment that tasks, tools and helper processes
    get (``LC_*``: every variable starting ``LC_``); nothing else of it reaches them."""


class SecretsConfig(Section, kw_only=True):
    file: str | None = None
    """A TOML file of ``name = "value"`` secrets, mode 0600 (or 0400), owned by the
    daemon's user or root."""
    credentials: bool = True
    """Read ``$CREDENTIALS_DIRECTORY`` (systemd ``LoadCredential=``): one secret per
    file, named as the file."""


class Events(Section, kw_only=True):
    """``[events]``: what subscriptions (``events.subscribe``) may hold in the daemon."""

    queue_events: Annotated[int, Meta(ge=10, le=1_000_000)] = 1000
    """Events waiting for a client that reads too slowly before its subscription is cut
    (it gets a ``cut`` event with the cursor to resume from)."""
    queue_bytes: Annotated[int, Meta(ge=64 * 1024)] = 8 * 1024 * 1024
    """Bytes waiting for such a client before its subscription is cut."""
    max_subscriptions: Annotated[int, Meta(ge=1, le=10_000)] = 64
    """Subscriptions one connection may have at once."""
    topic_backlog: Annotated[int, Meta(ge=0, le=1_000_000)] = 1000
    """Latest events kept in memory per topic without storage (alerts, schedules),
    for cursors to replay."""


class Config(Section, kw_only=True):
    socket: str | None = None
    state_dir: str | None = None
    task_dirs: list[str] = []
    tool_dirs: list[str] = []
    """Folders of folder tools (``<category>/<name>/config.json``); default
    ``<state_dir>/tools``."""
    storage: str = "sqlite"
    durability: Literal["normal", "full"] = "normal"
    node: str | None = None
    workers: Annotated[int, Meta(ge=1, le=1024)] = max(2, os.cpu_count() or 2)
    """How many runs may execute at once, all task types together."""
    shutdown_grace_s: Annotated[float, Meta(ge=0)] = 10.0
    watch: bool = True
    """Watch task directories and reload changed tasks by themselves."""
    reload_debounce_s: Annotated[float, Meta(ge=0)] = 0.2
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    slow_callback_ms: Annotated[float, Meta(ge=0)] = 0.0
    """Debugging: log every event-loop callback slower than this, and file I/O done on
    the loop (``seqd.daemon.loopwatch``); 0: off."""
    disabled_plugins: list[str] = []
    limits: Limits = msgspec.field(default_factory=Limits)
    access: Access = msgspec.field(default_factory=Access)
    tools: Tools = msgspec.field(default_factory=Tools)
    metrics: MetricsSettings = msgspec.field(default_factory=MetricsSettings)
    alerts: AlertsSettings = msgspec.field(default_factory=AlertsSettings)
    retention: Retention = msgspec.field(default_factory=Retention)
    scheduler: SchedulerSettings = msgspec.field(default_factory=SchedulerSettings)
    task_env: TaskEnv = msgspec.field(default_factory=TaskEnv)
    secrets: SecretsConfig = msgspec.field(default_factory=SecretsConfig)
    events: Events = msgspec.field(default_factory=Events)
    backends: dict[str, dict[str, Any]] = {}
    """Options per storage backend, ``[backends.<name>]``."""
    task_types: dict[str, dict[str, Any]] = {}
    """Options per task type, ``[task_types.<name>]``."""
    sections: dict[str, dict[str, Any]] = {}
    """Top-level tables the core does not know (``[web]``): plugins read them, and the
    daemon checks them against the loaded plugins at start (``seqd.plugins.sections``)."""
    config_file: str | None = None
    """Where the file layer came from (set by the loader, not by users)."""

    def resolved_socket(self) -> str:
        return self.socket or paths.default_socket()

    def resolved_state_dir(self) -> str:
        return self.state_dir or paths.default_state_dir()

    def resolved_task_dirs(self) -> list[str]:
        if self.task_dirs:
            return [os.path.abspath(os.path.expanduser(d)) for d in self.task_dirs]
        return [os.path.join(self.resolved_state_dir(), "tasks")]

    def resolved_tool_dirs(self) -> list[str]:
        if self.tool_dirs:
            return [os.path.abspath(os.path.expanduser(d)) for d in self.tool_dirs]
        return [os.path.join(self.resolved_state_dir(), "tools")]


ENV_KEYS: dict[str, str] = {
    "SEQD_SOCKET": "socket",
    "SEQD_STATE_DIR": "state_dir",
    "SEQD_TASK_DIRS": "task_dirs",
    "SEQD_TOOL_DIRS": "tool_dirs",
    "SEQD_STORAGE": "storage",
    "SEQD_DURABILITY": "durability",
    "SEQD_NODE": "node",
    "SEQD_WORKERS": "workers",
    "SEQD_LOG_LEVEL": "log_level",
    "SEQD_SHUTDOWN_GRACE_S": "shutdown_grace_s",
    "SEQD_SLOW_CALLBACK_MS": "slow_callback_ms",
}
_INT_KEYS = {"workers"}
_FLOAT_KEYS = {"shutdown_grace_s", "slow_callback_ms"}


def _env_layer(env: Mapping[str, str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    for var, key in ENV_KEYS.items():
        if var not in env or env[var] == "":
            continue
        raw = env[var]
        value: Any = raw
        try:
            if key in ("task_dirs", "tool_dirs"):
                value = [p for p in raw.split(":") if p]
            elif key in _INT_KEYS:
                value = int(raw)
            elif key in _FLOAT_KEYS:
                value = float(raw)
        except ValueError:
            raise ConfigError(f"{var}={raw!r}: expected a number") from None
        layer[key] = value
    return layer


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _validate(data: Mapping[str, Any], origin: str) -> Config:
    known = Config.__struct_fields__
    core = {k: v for k, v in data.items() if k in known or not isinstance(v, dict)}
    core["sections"] = {k: v for k, v in data.items() if k not in known and isinstance(v, dict)}
    try:
        config = msgspec.convert(core, Config)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{origin}: {exc}") from None
    _check_networks(config, origin)
    return config


def _check_networks(config: Config, origin: str) -> None:
    """Networks are CIDR text; a typo must stop the daemon, not open or close a range."""
    lists = [("tools.http_allow_networks", config.tools.http_allow_networks)]
    for task, policy in config.tools.tasks.items():
        lists.append((f"tools.tasks.{task}.http_allow_networks", policy.http_allow_networks or []))
    for key, networks in lists:
        for text in networks:
            try:
                ipaddress.ip_network(text, strict=False)
            except ValueError as exc:
                raise ConfigError(f"{origin}: {key}: {exc}") from None


def load_config(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    config_file: str | None = None,
) -> Config:
    """Build the effective config. ``config_file`` (``--config``/``$SEQD_CONFIG``) must
    exist when given; the default location is optional. ``flags["_storage_opts"]``
    (from ``--storage-opt``) are options of the chosen storage backend."""
    env = os.environ if env is None else env
    flags = {k: v for k, v in (flags or {}).items() if v is not None and v != []}
    storage_opts = flags.pop("_storage_opts", None)
    explicit = config_file or env.get("SEQD_CONFIG") or None
    path = explicit or paths.default_config_file()
    file_layer: dict[str, Any] = {}
    used_file: str | None = None
    if os.path.exists(path):
        try:
            with open(path, "rb") as fh:
                file_layer = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
        _validate(file_layer, f"config file {path}")
        # Paths in the file are relative to the file, wherever the daemon starts.
        base = os.path.dirname(os.path.abspath(path))
        for key in ("task_dirs", "tool_dirs"):
            if key in file_layer:
                file_layer[key] = [
                    os.path.join(base, os.path.expanduser(d)) for d in file_layer[key]
                ]
        for key in ("socket", "state_dir"):
            if isinstance(file_layer.get(key), str):
                file_layer[key] = os.path.join(base, os.path.expanduser(file_layer[key]))
        secrets = file_layer.get("secrets")
        if isinstance(secrets, dict) and isinstance(secrets.get("file"), str):
            secrets["file"] = os.path.join(base, os.path.expanduser(secrets["file"]))
        used_file = path
    elif explicit:
        raise ConfigError(f"config file {path} does not exist")
    env_layer = _env_layer(env)
    _validate(env_layer, "environment")
    merged = _merge(_merge(file_layer, env_layer), flags)
    if storage_opts:
        # --storage-opt applies to whichever backend the merged config chose.
        name = merged.get("storage", "sqlite")
        merged = _merge(merged, {"backends": {name: storage_opts}})
    merged["config_file"] = used_file
    return _validate(merged, "flags")
