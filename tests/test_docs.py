"""The user docs cannot drift from the code (datasette-style meta-tests).

The method reference in docs/protocol.md is the rendered OpenRPC document; every config
key, hook, RPC method, error code and run error type the code has is documented; the
example config validates; the example plugin in docs/plugins.md installs and runs.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import msgspec
import pytest

from seqd.builtin.storage.sqlite.backend import SQLiteOptions, parse_options
from seqd.builtin.tasks.shell import ShellTypeConfig
from seqd.config.settings import ENV_KEYS, Config, load_config
from seqd.errors import ALL_ERRORS
from seqd.plugins import hookspecs
from seqd.plugins.storage import StorageBackend, StorageFactory
from seqd.plugins.tasktype import Job, TaskType
from seqd.plugins.tools import Tool
from seqd.plugins.tracing import Tracer
from seqd.rpc import openrpc
from seqd.rpc.protocol import METHODS
from seqd.runtime.worker.context import Context
from seqd.runtime.workerpool.pool import PoolSettings

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
BEGIN, END = "<!-- methods:begin -->", "<!-- methods:end -->"


def doc(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def struct_keys(struct: type[msgspec.Struct], prefix: str = "") -> list[str]:
    """Dotted field names of a Struct, descending into nested Struct fields."""
    keys: list[str] = []
    for field in msgspec.structs.fields(struct):
        keys.append(prefix + field.name)
        if isinstance(field.type, type) and issubclass(field.type, msgspec.Struct):
            keys.extend(struct_keys(field.type, f"{prefix}{field.name}."))
    return keys


def fenced_blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


# -- protocol.md -------------------------------------------------------------------


def test_method_reference_is_generated_from_the_code() -> None:
    text = doc("protocol.md")
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    block = text[text.index(BEGIN) + len(BEGIN) : text.index(END)]
    expected = openrpc.markdown(openrpc.document())
    assert block.strip() == expected.strip(), (
        "docs/protocol.md is stale: paste `python -m seqd.rpc.openrpc --markdown` "
        "between the methods markers"
    )


def test_every_method_is_in_protocol_doc() -> None:
    text = doc("protocol.md")
    missing = [m for m in METHODS if f"`{m}`" not in text]
    assert not missing, f"methods not in docs/protocol.md: {missing}"


def test_every_error_code_is_explained() -> None:
    text = doc("protocol.md")
    for cls in ALL_ERRORS:
        row = f"| {cls.code} | `{cls.type}` |"
        assert row in text, f"docs/protocol.md has no error row {row!r}"


# -- configuration.md --------------------------------------------------------------


def section(text: str, heading: str) -> str:
    """The body of a ``###``/``##`` section, up to the next heading of that level."""
    body = text.split(heading, 1)[1]
    return body.split("\n## ", 1)[0].split("\n### ", 1)[0]


LOADER_KEYS = {"config_file", "sections"}
"""Config fields the loader fills (where the file was; plugins' tables), not keys."""


def test_every_config_key_is_documented() -> None:
    text = doc("configuration.md")
    keys = [k for k in struct_keys(Config) if k not in LOADER_KEYS]
    assert "limits.max_line_bytes" in keys and "access.admin_uids" in keys
    defaults = Config()
    tables = {
        f
        for f in Config.__struct_fields__
        if f not in LOADER_KEYS and isinstance(getattr(defaults, f), msgspec.Struct | dict)
    }
    assert tables == {
        "limits", "access", "tools", "retention", "scheduler", "task_env", "secrets",
        "events", "backends", "task_types", "metrics", "alerts",
    }  # fmt: skip
    missing = []
    for key in keys:
        *parents, leaf = key.split(".")
        if not parents and leaf in tables:
            # A table of its own: documented by its section heading(s).
            ok = f"### `[{leaf}]`" in text or f"### `[{leaf}." in text
        else:
            heading = f"### `[{'.'.join(parents)}]`" if parents else "### Top-level keys"
            ok = f"| `{leaf}` |" in section(text, heading)
        if not ok:
            missing.append(key)
    assert not missing, f"config keys not in docs/configuration.md tables: {missing}"


@pytest.mark.parametrize(
    ("name", "struct"),
    [
        ("backends.sqlite", SQLiteOptions),
        ("task_types.python", PoolSettings),
        ("task_types.shell", ShellTypeConfig),
    ],
)
def test_every_plugin_option_is_documented(name: str, struct: type[msgspec.Struct]) -> None:
    text = doc("configuration.md")
    part = section(text, f"### `[{name}]`")
    missing = [k for k in struct_keys(struct) if f"| `{k}` |" not in part]
    assert not missing, f"[{name}] options not in its table: {missing}"


def test_environment_variables_are_all_listed() -> None:
    text = doc("configuration.md")
    table = text.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `(SEQD_[A-Z_]+)` \|", table, re.M))
    assert listed == {*ENV_KEYS, "SEQD_CONFIG"}


def test_example_config_is_complete_and_valid(tmp_path: Path) -> None:
    blocks = fenced_blocks(doc("configuration.md"), "toml")
    assert len(blocks) == 1, "expected exactly one ```toml example"
    example = blocks[0]
    path = tmp_path / "seqd.toml"
    path.write_text(example)
    config = load_config({}, env={}, config_file=str(path))
    assert config.config_file == str(path)
    assert config.task_dirs[0] == str(tmp_path / "tasks")
    parse_options(config.backends["sqlite"])
    msgspec.convert(config.task_types["python"], PoolSettings)
    msgspec.convert(config.task_types["shell"], ShellTypeConfig)
    # Every key appears in the example, set or commented out.
    for struct in (Config, SQLiteOptions, PoolSettings, ShellTypeConfig):
        for key in struct_keys(struct):
            leaf = key.rsplit(".", 1)[-1]
            if leaf in LOADER_KEYS or leaf in {
                "limits",
                "access",
                "tools",
                "retention",
                "scheduler",
                "task_env",
                "secrets",
                "events",
                "backends",
                "task_types",
                "metrics",
                "alerts",
            }:
                continue
            assert re.search(rf"^#? ?{leaf} = ", example, re.M), f"{key} not in the example"
    # The values the example claims to be defaults are the defaults.
    parsed = tomllib.loads(example)
    assert parsed["limits"] == msgspec.to_builtins(Config().limits)
    assert parsed["retention"] == msgspec.to_builtins(Config().retention)
    assert parsed["events"] == msgspec.to_builtins(Config().events)
    shell = msgspec.to_builtins(ShellTypeConfig())
    assert parsed["task_types"]["shell"] == {k: v for k, v in shell.items() if v is not None}
    assert parsed["task_env"] == msgspec.to_builtins(Config().task_env)


# -- plugins.md --------------------------------------------------------------------


def hookspec_functions() -> dict[str, inspect.Signature]:
    found = {}
    for name, fn in vars(hookspecs).items():
        if name.startswith("seqd_") and callable(fn):
            found[name] = inspect.signature(fn)
    return found


def test_every_hook_is_documented_with_its_arguments() -> None:
    text = doc("plugins.md")
    hooks = hookspec_functions()
    assert {"seqd_register_task_types", "seqd_startup"} <= set(hooks)
    for name, sig in hooks.items():
        call = f"{name}({', '.join(sig.parameters)})"
        assert f"`{call}`" in text, f"docs/plugins.md does not document `{call}`"


def protocol_members(cls: type) -> set[str]:
    """Public attributes and methods a Protocol class declares (not inherited ones)."""
    names = set(getattr(cls, "__annotations__", {}))
    names.update(n for n in vars(cls) if not n.startswith("_"))
    return {n for n in names if not n.startswith("_")}


@pytest.mark.parametrize(
    "cls", [StorageBackend, StorageFactory, TaskType, Job, Tool, Tracer], ids=lambda c: c.__name__
)
def test_every_interface_member_is_documented(cls: type) -> None:
    text = doc("plugins.md")
    members = protocol_members(cls)
    assert "name" in members or cls is Job
    missing = [m for m in sorted(members) if not re.search(rf"`(async |await )?{m}\b", text)]
    assert not missing, f"{cls.__name__} members not in docs/plugins.md: {missing}"


def test_every_ctx_member_is_documented() -> None:
    text = doc("tasks.md")
    members = {n for n in Context.__slots__ if not n.startswith("_")}
    members.update(n for n in vars(Context) if not n.startswith("_"))
    assert {"run_id", "log", "work_dir"} <= members
    missing = [m for m in sorted(members) if f"`ctx.{m}" not in text]
    assert not missing, f"ctx members not in docs/tasks.md: {missing}"


def plugin_files() -> dict[str, str]:
    text = doc("plugins.md")
    files = dict(re.findall(r"<!-- file: ([\w./-]+) -->\n```\w+\n(.*?)```", text, re.S))
    assert set(files) == {"pyproject.toml", "seqd_upper.py"}
    return files


def test_example_plugin_installs_and_runs(make_daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "seqd-upper"
    src.mkdir()
    for name, content in plugin_files().items():
        (src / name).write_text(content)
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
        + ["--no-build-isolation", "--target", str(site), str(src)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    extra = tmp_path / "extra"
    (extra / "shout").mkdir(parents=True)
    (extra / "shout" / "config.json").write_text(
        json.dumps({"type": "upper", "description": "Upper-cases the text input.", "field": "text"})
    )
    config = tmp_path / "seqd.toml"
    config.write_text('[task_types.upper]\nsuffix = "!"\n')
    d = make_daemon(
        args=["--config", str(config)],
        env={"PYTHONPATH": str(site)},
        tasks=[extra],
    )
    with d.client() as c:
        plugins = {p.name: p for p in c.plugins()}
        assert plugins["upper"].error is None
        assert plugins["upper"].contributes == {
            "task_types": ["upper"],
            "tracers": ["upper.finished"],
        }
        run = c.submit("shout", {"text": "hello there"}, wait=True, timeout_s=60)
        assert run.status == "succeeded", run.error
        assert run.output == {"text": "HELLO THERE!"}  # as docs/plugins.md shows
        bad = c.submit("shout", {"text": 3}, wait=True, timeout_s=60)
        assert bad.error is not None and bad.error.type == "validation"
    assert d.stop() == 0
    log = d.log_text()
    assert "seqd-upper ready on node" in log
    assert "seqd-upper: finished runs {'succeeded': 1, 'failed': 1}" in log


# -- tasks.md ----------------------------------------------------------------------


def produced_error_types() -> set[str]:
    """Run error types the built-in code can produce, found in its source."""
    patterns = [
        r'TaskFailed\(\s*"(\w+)"',
        r'RunError\(\s*type="(\w+)"',
        r'ErrorInfo\(\s*type="(\w+)"',
        r'_?interrupt,\s*run\.id,\s*"(\w+)"',
        r'_?interrupt\(\s*run_id,\s*"(\w+)"',
    ]
    found: set[str] = set()
    for path in (ROOT / "seqd").rglob("*.py"):
        if "testing" in path.parts:
            continue
        source = path.read_text()
        for pattern in patterns:
            found.update(re.findall(pattern, source))
    # ctx.call replies, not run errors; "shutdown" re-queues instead of failing;
    # "suspended" is a worker's report of a suspension (the run becomes suspended).
    return found - {"unknown_op", "unavailable", "shutdown", "suspended"}


def test_every_run_error_type_is_documented() -> None:
    text = doc("tasks.md")
    table = text.split("## Run error types", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", table, re.M))
    produced = produced_error_types()
    assert {"exception", "timeout", "cancelled", "exit_code", "crashed"} <= produced
    assert produced <= documented, f"undocumented: {sorted(produced - documented)}"


# -- flows.md ----------------------------------------------------------------------


def test_the_flows_md_run_example_works(daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """``seqctl run etl -i csv=@rows.csv ...`` passes the file's text, as it says."""
    m = re.search(r"`(seqctl run etl -i csv=@rows\.csv -i out=(\S+))`", doc("flows.md"))
    assert m, "the example is gone from docs/flows.md"
    (tmp_path / "rows.csv").write_text("name,amount\nada,10\nbob,not-a-number\ncy,5\n")
    out = tmp_path / "out.jsonl"
    argv = m.group(1).replace(m.group(2), str(out)).split()[1:]
    proc = subprocess.run(
        [sys.executable, "-m", "seqd.cli", *argv],
        cwd=tmp_path,
        env={**os.environ, "SEQD_SOCKET": daemon.socket},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["rows_in"] == 3
    assert [json.loads(x)["name"] for x in out.read_text().splitlines()] == ["Ada", "Cy"]


# -- all docs ----------------------------------------------------------------------


def slug(heading: str) -> str:
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


OWN_DOCS = (
    "protocol.md",
    "tasks.md",
    "configuration.md",
    "plugins.md",
    "tools.md",
    "durable.md",
    "observability.md",
    "mcp.md",
)


@pytest.mark.parametrize("name", OWN_DOCS)
def test_links_point_somewhere(name: str) -> None:
    text = doc(name)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if "://" in target:
            continue
        file, _, anchor = target.partition("#")
        path = DOCS / (file or name)
        assert path.exists(), f"{name} links to missing {target}"
        if anchor:
            headings = re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), re.M)
            assert anchor in {slug(h) for h in headings}, f"{name}: no anchor {target}"
