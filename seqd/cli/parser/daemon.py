"""The command lines of the daemon's own commands: ``seqctl status``, ``ping``,
``daemon <verb>``, ``nodes`` and ``plugins ls`` — and ``completion SHELL``.

``status`` and ``ping`` are usually read by ``seqd.cli.quick`` without argparse; their
help and errors come from here.
"""

from __future__ import annotations

from seqd.cli.parser.builder import Builder, Subs
from seqd.cli.quick import PING, STATUS

SHELLS = ("bash", "zsh", "fish")
COMPLETION_EPILOG = """\
Prints a completion script for your shell: commands, options, and the names of
tasks, runs, tools and schedules, asked of the daemon as you type (nothing when it
does not answer). Install it once:

  bash  seqctl completion bash > ~/.local/share/bash-completion/completions/seqctl
  zsh   seqctl completion zsh > ~/.zfunc/_seqctl     (with fpath+=(~/.zfunc) before
                                                      compinit in ~/.zshrc)
  fish  seqctl completion fish > ~/.config/fish/completions/seqctl.fish

then open a new shell.
"""


def add_status(b: Builder, nouns: Subs) -> None:
    b.sub(nouns, "status", "show the daemon's version, uptime, storage, runs and workers", STATUS)


def add_ping(b: Builder, nouns: Subs) -> None:
    b.sub(nouns, "ping", "check that the daemon answers", PING)


def add_plugins(b: Builder, nouns: Subs) -> None:
    verbs = b.verbs(nouns, "plugins", "list plugins and what they add")
    b.sub(
        verbs,
        "ls",
        "list plugins: version, source, kinds, contributions, errors",
        ("commands", "plugins_ls"),
        aliases=("list",),
    )


def add_nodes(b: Builder, nouns: Subs) -> None:
    b.sub(
        nouns,
        "nodes",
        "list the daemons (nodes) sharing this one's store: host, pid, heartbeat, runs held",
        ("commands", "nodes"),
    )


def add_daemon(b: Builder, nouns: Subs) -> None:
    verbs = b.verbs(nouns, "daemon", "reload, shut down, status, ping")
    b.sub(verbs, "status", "same as `seqctl status`", STATUS)
    b.sub(verbs, "ping", "same as `seqctl ping`", PING)
    b.sub(verbs, "reload", "re-read the task directories (as on SIGHUP)", ("commands", "reload"))
    b.sub(verbs, "shutdown", "stop the daemon gracefully", ("commands", "shutdown"))


def add_completion(b: Builder, nouns: Subs) -> None:
    completion = b.sub(
        nouns,
        "completion",
        "print a shell completion script (bash, zsh or fish)",
        ("completion", "completion"),
        COMPLETION_EPILOG,
    )
    completion.add_argument("shell", choices=SHELLS, help="the shell: " + ", ".join(SHELLS))
