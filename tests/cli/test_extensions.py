"""Commands installed packages add to seqctl (``seqd.cli.extensions``): found by their
entry point when the command word is not seqctl's own, given the rest of the line."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from seqd.cli import extensions, quick
from seqd.cli.main import main
from seqd.cli.parser import build_parser
from seqd.cli.parser.builder import CommandLineError

CALLS: list[list[str]] = []


def echo(argv: list[str]) -> int:
    """Echo the words it is given (a command of a test package)."""
    CALLS.append(argv)
    return 7


def broken(argv: list[str]) -> int:
    raise AssertionError("never called")


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = {
        "echo": EntryPoint("echo", f"{__name__}:echo", extensions.GROUP),
        "gone": EntryPoint("gone", "no_such_module_here:main", extensions.GROUP),
        "status": EntryPoint("status", f"{__name__}:broken", extensions.GROUP),
    }
    monkeypatch.setattr(extensions, "_entry_points", lambda: entries)
    CALLS.clear()


def test_noun_skips_options_and_the_socket_value() -> None:
    assert quick.noun(["--socket", "mcp", "--json", "echo", "x"]) == 3
    assert quick.noun(["--json"]) is None
    assert quick.noun(["runs", "ls"]) == 0


@pytest.mark.usefixtures("installed")
def test_an_installed_command_gets_the_rest_of_the_line() -> None:
    assert main(["--socket", "s.sock", "echo", "--flag", "value"]) == 7
    assert CALLS == [["--socket", "s.sock", "--flag", "value"]]
    assert main(["--json", "echo"]) == 7 and CALLS[-1] == ["--json"]


@pytest.mark.usefixtures("installed")
def test_a_builtin_command_is_never_taken_over(capsys: pytest.CaptureFixture[str]) -> None:
    # "status" is seqctl's own: the package's entry of that name is not even loaded.
    assert main(["--socket", "/nonexistent/s.sock", "status"]) == 3
    assert CALLS == []


@pytest.mark.usefixtures("installed")
def test_a_broken_package_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gone"]) == 2
    err = capsys.readouterr().err
    assert "command 'gone' (no_such_module_here:main) cannot be loaded" in err
    assert "Traceback" not in err


@pytest.mark.usefixtures("installed")
def test_help_and_did_you_mean_know_installed_commands() -> None:
    text = build_parser(None).format_help()
    assert "echo" in text and "Echo the words it is given" in text
    assert "gone" in text and "cannot be loaded" in text
    with pytest.raises(CommandLineError, match="did you mean 'echo'"):
        build_parser(["ecoh"]).parse_args(["ecoh"])
