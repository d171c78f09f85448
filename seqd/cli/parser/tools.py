"""The command lines of ``seqctl tools <verb>``, with their help."""

from __future__ import annotations

from seqd.cli.parser.builder import EXIT_STATUSES, Builder, Subs, add_object_options, completes

TOOLS_CALL_EPILOG = f"""\
params:
  -p KEY=VALUE     sets KEY to the string VALUE          -p url=http://localhost:8080/
  -p KEY:=JSON     sets KEY to a JSON value              -p timeout_s:=5  -p argv:='["ls","-l"]'
  -p KEY=@FILE     sets KEY to the text of a file        -p content=@notes.txt
  -p KEY:=@FILE    sets KEY to a JSON file's value       -p value:=@value.json
  --params JSON    the whole params object, inline       --params '{{"key": "k"}}'
  --params @FILE   ... read from a JSON file             --params @params.json
  --params -       ... read from stdin
  --params is read first; each -p then sets one key on top of it.

The result is printed as JSON (a string as is); --json prints the whole answer
({{"tool", "result", "duration_s"}}). A refused or failed call exits 4 with the error
(validation names the field; rate_limited says when to retry; tool_failed says why).

examples:
  seqctl tools call kv.set -p key=greeting -p value=hello
  seqctl tools call kv.get -p key=greeting
  seqctl tools call file.write -p path=notes/today.txt -p content='buy milk'
  seqctl tools call file.list -p path=notes
  seqctl tools call http.request -p url=http://127.0.0.1:8000/health
  seqctl tools call shell.exec -p argv:='["uname","-a"]'        (admins only)
  seqctl tools call task.run -p task=hello -p input:='{{"name":"Ada"}}'

{EXIT_STATUSES}"""


def add_tools(b: Builder, nouns: Subs) -> None:
    verbs = b.verbs(nouns, "tools", "list, show and call tools")
    b.sub(
        verbs,
        "ls",
        "list tools: name, source, validity, description",
        ("tools", "tools_ls"),
        "Plugin tools (built-in ones included) and folder tools\n"
        "(<tool dir>/<category>/<name>/config.json + code.py, named category.name).\n",
        aliases=("list",),
    )
    show = b.sub(
        verbs, "show", "one tool: description, params and result schemas", ("tools", "tool_show")
    )
    completes(
        show.add_argument("name", metavar="NAME", help="a dotted tool name, e.g. file.read"),
        "tools",
    )
    call = b.sub(verbs, "call", "call a tool and print its result", ("tools", "tool_call"),
                 TOOLS_CALL_EPILOG)  # fmt: skip
    completes(
        call.add_argument("name", metavar="NAME", help="a dotted tool name, e.g. kv.get"),
        "tools",
    )
    add_object_options(call, "-p", "--params", "param", "params")
