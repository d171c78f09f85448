"""Named secrets, and hiding their values wherever the daemon could echo them.

Secrets come from systemd credentials (``LoadCredential=``: one file per secret in
``$CREDENTIALS_DIRECTORY``, named as the file) and from a TOML file of ``name =
"value"`` pairs that only the daemon's user may read (``[secrets] file``). A task's
config names them (``"env": {"API_KEY": {"secret": "api_key"}}``), and so does a tool's
(``[tools.http_headers]``): the value is put where it is needed when it is needed, and
is never part of a run. Because a task may still print it or return it, ``Secrets``
also redacts: every known value (and its JSON-escaped spelling) becomes ``***`` in log
lines, run outputs and errors, journal entries, tool results, traces and the daemon's
own log.

Its own module because loading, resolving and redacting are one idea: the set of
values that must never be shown, kept in one object the whole daemon shares.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from typing import Annotated, Any

import msgspec
from msgspec import Meta

logger = logging.getLogger(__name__)

NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,128}$"
_NAME = re.compile(NAME_PATTERN)
MASK = "***"
MIN_REDACTED = 4
"""Shorter values are not redacted (they would mask common text); a warning says so."""
MAX_SECRET_BYTES = 64 * 1024
_json = msgspec.json.Encoder()


class SecretRef(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``{"secret": "<name>"}``: where a config value comes from a named secret."""

    secret: Annotated[str, Meta(pattern=NAME_PATTERN)]


HeaderValue = str | SecretRef
"""A config value that is given as text or taken from a secret."""


class SecretsError(Exception):
    """The secrets cannot be loaded; the message says which file and why."""


class Secrets:
    """The daemon's secrets by name. One object for the daemon's life: ``replace``
    swaps the values in place (a reload), so every part holding it sees the new ones."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None
        self.replace(values or {})

    def replace(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)
        forms: set[str] = set()
        for name, value in self._values.items():
            if len(value) < MIN_REDACTED:
                logger.warning(
                    "secret %r is shorter than %d characters: it is not redacted from "
                    "output and logs", name, MIN_REDACTED,
                )  # fmt: skip
                continue
            forms.add(value)
            forms.add(_json.encode(value).decode()[1:-1])  # as it appears inside JSON
        ordered = sorted(forms, key=len, reverse=True)  # the longest spelling wins
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def names(self) -> list[str]:
        return sorted(self._values)

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def resolve(self, value: str | SecretRef, where: str) -> str:
        """The text of ``value``: itself, or the secret it names. ``KeyError`` names
        ``where`` and the missing secret."""
        if isinstance(value, str):
            return value
        try:
            return self._values[value.secret]
        except KeyError:
            raise KeyError(f"{where}: no secret named {value.secret!r}") from None

    def resolve_all(self, values: Mapping[str, str | SecretRef], where: str) -> dict[str, str]:
        return {k: self.resolve(v, f"{where}.{k}") for k, v in values.items()}

    def missing(self, values: Mapping[str, str | SecretRef]) -> list[str]:
        """Keys of ``values`` whose secret does not exist."""
        return [k for k, v in values.items() if isinstance(v, SecretRef) and v.secret not in self]

    # -- redaction ---------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """Whether anything is redacted at all (no secrets: every call is a no-op)."""
        return self._pattern is not None

    def redact(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(MASK, text)

    def redact_value(self, value: Any) -> Any:
        """``value`` (JSON-like: dicts, lists, strings, numbers, ``msgspec.Raw``) with
        every secret in its strings and keys masked; unchanged objects are returned
        as they are."""
        if self._pattern is None:
            return value
        return self._walk(value, 0)

    def _walk(self, value: Any, depth: int) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, msgspec.Raw):
            text = bytes(value).decode("utf-8", "surrogateescape")
            masked = self.redact(text)
            return (
                value if masked == text else msgspec.Raw(masked.encode("utf-8", "surrogateescape"))
            )
        if depth > 256:
            return value
        if isinstance(value, dict):
            return {self._walk(k, depth + 1): self._walk(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._walk(v, depth + 1) for v in value]
        if isinstance(value, msgspec.Struct):
            changes = {
                field: self._walk(getattr(value, field), depth + 1)
                for field in value.__struct_fields__
            }
            return msgspec.structs.replace(value, **changes)
        return value


class RedactingFilter(logging.Filter):
    """A log filter that masks secret values in every record it passes (installed on
    the daemon's log handler): a message, its arguments or a traceback that holds a
    secret's value shows ``***`` instead."""

    def __init__(self, secrets: Secrets) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets.active:
            record.msg = self.secrets.redact(record.getMessage())
            record.args = None
            if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = self.secrets.redact(record.exc_text)
            record.exc_info = None
        return True


# -- loading ---------------------------------------------------------------------------


def _check_name(name: str, origin: str) -> None:
    if not _NAME.match(name):
        raise SecretsError(f"{origin}: {name!r} is not a valid secret name ({NAME_PATTERN})")


def _private(path: str, st: os.stat_result, what: str) -> None:
    """Refuse a file other users could read or that someone else controls."""
    if st.st_uid not in (os.geteuid(), 0):
        raise SecretsError(f"{what} {path} belongs to uid {st.st_uid}, not to the daemon's user")
    if stat.S_IMODE(st.st_mode) & 0o077:
        raise SecretsError(
            f"{what} {path} has mode {stat.S_IMODE(st.st_mode):04o}: other users may read "
            "it; make it 0600 (chmod 600)"
        )


def read_secrets_file(path: str) -> dict[str, str]:
    """``name = "value"`` pairs of a TOML file only the daemon's user may read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise SecretsError(f"secrets file {path}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SecretsError(f"secrets file {path} is not a regular file")
        _private(path, st, "secrets file")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise SecretsError(f"secrets file {path}: {exc}") from None
    finally:
        os.close(fd)
    values: dict[str, str] = {}
    for name, value in data.items():
        _check_name(name, f"secrets file {path}")
        if not isinstance(value, str):
            raise SecretsError(f"secrets file {path}: {name} must be a string")
        values[name] = value
    return values


def read_credentials(directory: str) -> dict[str, str]:
    """One secret per regular file of systemd's credentials directory; a single
    trailing newline of a file is not part of the value."""
    values: dict[str, str] = {}
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        if not entry.is_file(follow_symlinks=False):
            continue
        _check_name(entry.name, f"credential in {directory}")
        with open(entry.path, "rb") as fh:
            data = fh.read(MAX_SECRET_BYTES + 1)
        if len(data) > MAX_SECRET_BYTES:
            raise SecretsError(f"credential {entry.path} is larger than {MAX_SECRET_BYTES} bytes")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise SecretsError(f"credential {entry.path} is not UTF-8 text") from None
        values[entry.name] = text.removesuffix("\n")
    return values


def load_secrets(file: str | None, credentials_dir: str | None) -> dict[str, str]:
    """Every secret: systemd's credentials (when ``credentials_dir``) and the secrets
    file (when ``file``). A name given by both is an error, not a silent choice."""
    values: dict[str, str] = {}
    if credentials_dir:
        try:
            values.update(read_credentials(credentials_dir))
        except OSError as exc:
            raise SecretsError(f"credentials directory {credentials_dir}: {exc}") from None
    if file:
        for name, value in read_secrets_file(file).items():
            if name in values:
                raise SecretsError(
                    f"secret {name!r} is in both {file} and the systemd credentials; keep one"
                )
            values[name] = value
    return values
