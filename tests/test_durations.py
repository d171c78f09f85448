"""Durations (``seqd.model.durations``) and the config values read through them."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqd.config.settings import ConfigError, load_config
from seqd.errors import ValidationFailed
from seqd.model.durations import MAX_SECONDS, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("6h", 21600.0),
        ("7d", 604800.0),
        ("2w", 1209600.0),
        ("1h30m", 5400.0),
        ("1.5h", 5400.0),
        ("250ms", 0.25),
        ("1d2h3m4s5ms", 93784.005),
        ("0s", 0.0),
    ],
)
def test_durations_read_as_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text, "x") == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("", "expected a duration"),
        ("90", "add a unit"),
        ("1.5", "add a unit"),
        ("30 days", "e.g. 90s"),
        ("5S", "e.g. 90s"),
        ("-5s", "e.g. 90s"),
        (" 5s", "e.g. 90s"),
        ("5s ", "e.g. 90s"),
        ("1e3s", "e.g. 90s"),
        ("1m1h", "largest first"),
        ("1h1h", "each unit once"),
        ("99999999w", "at most"),
        ("9" * 400 + "s", "at most"),
    ],
)
def test_a_bad_duration_names_the_field(text: str, hint: str) -> None:
    with pytest.raises(ValidationFailed) as bad:
        parse_duration(text, "retention.failed")
    assert bad.value.details["field"] == "retention.failed"
    assert bad.value.message.startswith(f"retention.failed: {text!r} is not a duration")
    assert hint in bad.value.message


def test_not_text_is_not_a_duration() -> None:
    with pytest.raises(ValidationFailed):
        parse_duration(7, "every")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (0.25, "250ms"), (90, "1m30s"), (604800, "7d"), (5400, "1h30m"), (86401, "1d1s")],
)
def test_format_writes_what_parse_reads(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text, "x") == pytest.approx(seconds)
    assert format_duration(MAX_SECONDS) == "36500d"


def test_retention_config_reads_durations_and_forever(tmp_path: Path) -> None:
    path = tmp_path / "seqd.toml"
    path.write_text('[retention]\nsucceeded = "7d"\nfailed = "forever"\nevery = "90s"\n')
    retention = load_config({}, env={}, config_file=str(path)).retention
    assert retention.keep_s("succeeded") == 604800.0
    assert retention.keep_s("failed") is None
    assert retention.keep_s("cancelled") == 30 * 86400.0  # the default
    assert retention.every_s() == 90.0


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('succeeded = "7 days"', "retention.succeeded: '7 days' is not a duration"),
        ('cancelled = "never"', "or 'forever' to keep them"),
        ('every = "0s"', "retention.every: at least 1s"),
        ('every = "forever"', "retention.every: 'forever' is not a duration"),
        ("batch = 0", "retention.batch"),
        ("keep = 1", "unknown field `keep` - at `$.retention`"),
    ],
)
def test_a_bad_retention_config_names_the_key(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "seqd.toml"
    path.write_text(f"[retention]\n{line}\n")
    with pytest.raises(ConfigError) as bad:
        load_config({}, env={}, config_file=str(path))
    assert message in str(bad.value)
