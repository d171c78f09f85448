"""Config sections that plugins own: ``[web]``, ``[mcp]`` and whatever a third-party
plugin reads.

The core config (``seqd.config.settings``) keeps a top-level table it does not know in
``Config.sections``; a plugin declares the table's name and shape with
``seqd_register_config_sections``, and the daemon checks every such table against the
installed plugins before it touches storage, so a typo (``[wbe]``) or a wrong value is a
configuration error naming the key, as it is for the core's own sections.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

import msgspec

from seqd.config.settings import Config, ConfigError

S = TypeVar("S", bound=msgspec.Struct)


@dataclass(frozen=True)
class ConfigSection:
    """A top-level config table a plugin reads: ``name`` is the table (``[name]``),
    ``type`` the Struct its contents must convert to (give it
    ``forbid_unknown_fields=True`` so misspelt keys are caught)."""

    name: str
    type: type[msgspec.Struct]


def section(config: Config, name: str, type_: type[S]) -> S:
    """The ``[name]`` table converted to ``type_`` (its defaults when the file has none)."""
    try:
        return msgspec.convert(config.sections.get(name, {}), type_)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"[{name}]: {exc}") from None


def check(config: Config, declared: Iterable[ConfigSection]) -> None:
    """Every table in ``config.sections`` is one a loaded plugin declared, and valid."""
    known = {s.name: s for s in declared}
    for name in sorted(config.sections):
        if name not in known:
            offer = ", ".join(f"[{n}]" for n in sorted(known)) or "none"
            raise ConfigError(
                f"[{name}]: unknown config section; no loaded plugin reads it "
                f"(plugin sections: {offer})"
            )
        section(config, name, known[name].type)
