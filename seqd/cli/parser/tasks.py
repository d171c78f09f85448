"""The command lines of ``seqctl tasks <verb>``."""

from __future__ import annotations

from seqd.cli.parser.builder import Builder, Subs, completes


def add_tasks(b: Builder, nouns: Subs) -> None:
    verbs = b.verbs(nouns, "tasks", "list, show and validate tasks")
    ls = b.sub(
        verbs, "ls", "list tasks (invalid ones too)", ("commands", "tasks_ls"), aliases=("list",)
    )
    ls.add_argument("--tag", metavar="T", help="only tasks with this tag")
    show = b.sub(verbs, "show", "one task's definition and input schema", ("commands", "task_show"))
    completes(show.add_argument("name", metavar="NAME"), "tasks")
    validate = b.sub(
        verbs,
        "validate",
        "check one task's definition: every problem at once (exit 1 when it has any)",
        ("commands", "task_validate"),
    )
    completes(validate.add_argument("name", metavar="NAME"), "tasks")
