"""Config layering: defaults < TOML file < SEQD_* env < flags, each validated."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqd.config.settings import ConfigError, load_config


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "seqd.toml"
    path.write_text(text)
    return str(path)


def test_layers(tmp_path: Path) -> None:
    f = write(
        tmp_path,
        'workers = 3\nstorage = "fs"\nsocket = "/file.sock"\n[limits]\nlog_cap_bytes = 4096\n',
    )
    c = load_config({}, env={}, config_file=f)
    assert (c.workers, c.storage, c.socket, c.limits.log_cap_bytes) == (3, "fs", "/file.sock", 4096)
    c = load_config({}, env={"SEQD_WORKERS": "5", "SEQD_SOCKET": "/env.sock"}, config_file=f)
    assert (c.workers, c.socket, c.storage) == (5, "/env.sock", "fs")
    c = load_config({"workers": 7}, env={"SEQD_WORKERS": "5"}, config_file=f)
    assert c.workers == 7
    assert c.config_file == f


def test_paths_relative_to_file_and_env_split(tmp_path: Path) -> None:
    f = write(tmp_path, 'task_dirs = ["tasks"]\nstate_dir = "state"\nsocket = "run/s.sock"\n')
    c = load_config({}, env={}, config_file=f)
    assert c.task_dirs == [str(tmp_path / "tasks")]
    assert (c.state_dir, c.socket) == (str(tmp_path / "state"), str(tmp_path / "run/s.sock"))
    c = load_config({}, env={"SEQD_TASK_DIRS": "/a:/b"}, config_file=f)
    assert c.task_dirs == ["/a", "/b"]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("workers = 'many'\n", "workers"),
        ("wokers = 3\n", "wokers"),
        ("[limits]\nmax_line_bytes = 1\n", "max_line_bytes"),
        ("[limits]\nmax_connections = 10\n", "limits.admin_reserved_connections"),
        ("[limits]\nidle_timeout_s = -1\n", "idle_timeout_s"),
        ("[limits]\nmax_pending_per_connection = 0\n", "max_pending_per_connection"),
        ("[limits]\nmax_connections_per_uid = 'many'\n", "max_connections_per_uid"),
        ("[limits]\nmax_buffered_bytes_total = 10\n", "max_buffered_bytes_total"),
        ("durability = 'sometimes'\n", "durability"),
        ("this is not toml", "seqd.toml"),
    ],
)
def test_bad_file_names_the_key(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load_config({}, env={}, config_file=write(tmp_path, text))


def test_bad_env(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SEQD_WORKERS"):
        load_config({}, env={"SEQD_WORKERS": "lots"})
    with pytest.raises(ConfigError, match="workers"):
        load_config({}, env={"SEQD_WORKERS": "0"})


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config({}, env={}, config_file=str(tmp_path / "nope.toml"))


def test_default_file_is_optional(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert load_config({}, env={}).config_file is None


def test_user_socket_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from seqd.config import paths

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert paths.user_socket() == str(tmp_path / "seqd" / "seqd.sock")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "missing"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import os

    expected_base = f"/run/user/{os.getuid()}"
    if not os.path.isdir(expected_base):
        expected_base = str(tmp_path / f"runtime-{os.getuid()}")
    assert paths.user_socket() == f"{expected_base}/seqd/seqd.sock"
    monkeypatch.setenv("SEQD_SOCKET", "/x.sock")
    assert paths.client_socket() == "/x.sock"
    assert paths.client_socket("/y.sock") == "/y.sock"


def test_access_and_secrets_settings_are_checked(tmp_path: Path) -> None:
    """A role that is not one, a network that does not parse: stopped at load, naming
    the key; the secrets file is taken from the config file's folder."""
    with pytest.raises(ConfigError, match="access.users"):
        load_config({}, env={}, config_file=write(tmp_path, '[access.users]\nbob = "boss"\n'))
    with pytest.raises(ConfigError, match="tools.http_allow_networks"):
        text = '[tools]\nhttp_allow_networks = ["10.0.0.0/33"]\n'
        load_config({}, env={}, config_file=write(tmp_path, text))
    with pytest.raises(ConfigError, match="tools.tasks.etl.http_allow_networks"):
        text = '[tools.tasks.etl]\nhttp_allow_networks = ["nope"]\n'
        load_config({}, env={}, config_file=write(tmp_path, text))
    c = load_config({}, env={}, config_file=write(tmp_path, '[secrets]\nfile = "s.toml"\n'))
    assert c.secrets.file == str(tmp_path / "s.toml")
    assert c.task_env.passthrough[:2] == ["PATH", "HOME"] and "LC_*" in c.task_env.passthrough


def test_unknown_user_names_and_the_old_env_list_stop_the_daemon(make_daemon) -> None:  # type: ignore[no-untyped-def]
    for text, needle in (
        ('[access.users]\nno-such-user-xyz = "operator"\n', "no user named 'no-such-user-xyz'"),
        ('[task_types.shell]\nenv_passthrough = ["PATH"]\n', "[task_env] passthrough"),
    ):
        d = make_daemon(start=False, name=f"d{len(needle)}")
        (d.base / "seqd.toml").write_text(text)
        d.args += ["--config", str(d.base / "seqd.toml")]
        with pytest.raises(RuntimeError, match="exited with 2"):
            d.start()
        assert needle in d.log_text()
