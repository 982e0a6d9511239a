"""Good files: defaults, the commented example, secrets, overrides, and the round trip through
check-config's output."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from teleinforeader.config import MASK, RULES, load_settings, render_settings
from teleinforeader.settings import (
    PASSWORD_ENVIRONMENT_VARIABLE,
    DaemonSettings,
    DatabaseSettings,
    HttpSettings,
    MariaDBSettings,
    ServerSettings,
    Settings,
    fields,
    is_section,
    replace,
)
from teleinforeader.sources.simulator import PROFILES

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "teleinforeader.toml"

# Keys set to something other than their default (and allowed), to prove each one is read.
NOT_DEFAULTS = """\
[source]
type = "simulator"
device = "socket://127.0.0.1:4000"
mode = "standard"
silence_timeout = 12.5
file = "capture.bin"
speed = 0
loop = true
profile = "standard-tri"
seed = 42

[guard]
enabled = false
max_power = 12000

[database]
backend = "mariadb"
store_interval = 0
flush_interval = 0.5
batch_size = 1
memory_backlog = 20
reader = "cellier"
sqlite_path = "/srv/teleinfo.db"
reconnect_delay = 0.25
reconnect_max_delay = 60

[database.mariadb]
host = "db.example"
port = 3307
unix_socket = "/run/mysqld/mysqld.sock"
user = "reader"
password = "s3cr\\"et"
database = "meters"
connect_timeout = 3
tls_ca = "/nonexistent/ca.pem"
tls_verify = false

[server]
enabled = false
host = "::"
port = 1
max_clients = 1
allow = ["192.168.1.0/24", "fd00::/8", "10.1.2.3"]
client_buffer = 1

[http]
enabled = false
host = "127.0.0.1"
port = 2
max_clients = 2
allow = ["192.168.2.0/24"]

[daemon]
state_directory = "/tmp/teleinfo"
log_level = "debug"
status_interval = 0
"""


def _keys(cls: type, section: str = "") -> Iterator[str]:
    """Every key of the settings, as "section.key", walking nested sections."""
    for setting in fields(cls):
        dotted = f"{section}.{setting.name}" if section else setting.name
        if is_section(setting.type):
            yield from _keys(setting.type, dotted)
        else:
            yield dotted


def _table_keys(table: dict[str, Any], section: str = "") -> Iterator[str]:
    for name, value in table.items():
        dotted = f"{section}.{name}" if section else name
        if isinstance(value, dict):
            yield from _table_keys(value, dotted)
        else:
            yield dotted


def _write(directory: Path, text: str) -> Path:
    path = directory / "teleinforeader.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_documents_exactly_the_settings_keys() -> None:
    documented = list(_table_keys(tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))))
    assert sorted(documented) == sorted(_keys(Settings))
    assert len(documented) == len(set(documented))


def test_example_loads_to_the_defaults() -> None:
    assert load_settings(EXAMPLE) == Settings()


def test_every_example_key_has_a_comment_in_its_section() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    headers = (
        "[source]",
        "[guard]",
        "[database]",
        "[database.mariadb]",
        "[server]",
        "[http]",
        "[daemon]",
    )
    for header in headers:
        following = text.split(f"\n{header}\n", 1)[1]
        assert following.startswith("#"), f"{header} has no comment"


def test_example_lists_every_simulator_profile() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for name in PROFILES:
        assert f'"{name}"' in text


def test_rules_name_only_real_keys() -> None:
    assert set(RULES) <= set(_keys(Settings))


def test_the_test_file_sets_only_real_keys() -> None:
    assert set(_table_keys(tomllib.loads(NOT_DEFAULTS))) <= set(_keys(Settings))


def test_good_file_loads_every_key(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, NOT_DEFAULTS))
    assert settings.server == ServerSettings(
        enabled=False,
        host="::",
        port=1,
        max_clients=1,
        allow=("192.168.1.0/24", "fd00::/8", "10.1.2.3"),
        client_buffer=1,
    )
    assert settings.http == HttpSettings(
        enabled=False, host="127.0.0.1", port=2, max_clients=2, allow=("192.168.2.0/24",)
    )
    assert settings.database.mariadb.password == 's3cr"et'
    assert settings.daemon == DaemonSettings(
        state_directory="/tmp/teleinfo", log_level="debug", status_interval=0.0
    )
    loaded, defaults = _flatten(settings), _flatten(Settings())
    for key in _table_keys(tomllib.loads(NOT_DEFAULTS)):
        assert loaded[key] != defaults[key], f"{key} kept its default"


def _flatten(settings: Any, section: str = "") -> dict[str, Any]:
    """ "section.key" -> value, nested sections included."""
    flat: dict[str, Any] = {}
    for setting in fields(settings):
        value, dotted = getattr(settings, setting.name), f"{section}.{setting.name}".lstrip(".")
        flat.update(_flatten(value, dotted) if is_section(value) else {dotted: value})
    return flat


def test_integers_are_accepted_for_number_keys(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, "[database]\nstore_interval = 7\n"))
    assert settings.database.store_interval == 7.0
    assert isinstance(settings.database.store_interval, float)


def test_render_loads_back_to_the_same_settings(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, NOT_DEFAULTS.replace('password = "s3cr\\"et"', "")))
    again = load_settings(_write(tmp_path, render_settings(settings)))
    assert again == settings


def test_check_config_round_trips_with_the_secret_masked(
    tmp_path: Path, run_cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    config = _write(tmp_path, NOT_DEFAULTS)
    result = run_cli("check-config", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith(f"# {config}\n[source]\n")
    assert "s3cr" not in result.stdout
    assert f'password = "{MASK}"' in result.stdout
    (tmp_path / "printed").mkdir()
    printed = _write(tmp_path / "printed", result.stdout)
    expected = load_settings(config)
    masked = replace(expected.database.mariadb, password=MASK)
    assert load_settings(printed) == replace(
        expected, database=replace(expected.database, mariadb=masked)
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", Settings()),
        ("[server]\n", Settings()),
        ("[server]\nport = 6000\n", Settings(server=ServerSettings(port=6000))),
        (
            "[database.mariadb]\nhost = 'db'\n",
            Settings(database=DatabaseSettings(mariadb=MariaDBSettings(host="db"))),
        ),
    ],
)
def test_missing_keys_and_sections_take_the_defaults(
    tmp_path: Path, content: str, expected: Settings
) -> None:
    assert load_settings(_write(tmp_path, content)) == expected


def test_no_file_at_the_default_path_means_defaults(tmp_path: Path) -> None:
    assert load_settings(None, default_path=tmp_path / "absent.toml") == Settings()


def test_the_default_path_is_read_when_it_exists(tmp_path: Path) -> None:
    default = _write(tmp_path, "[server]\nport = 6001\n")
    assert load_settings(None, default_path=default).server.port == 6001


def test_check_config_names_where_the_settings_came_from(
    tmp_path: Path, run_cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    result = run_cli("check-config", "--config", str(_write(tmp_path, "")))
    assert result.returncode == 0
    assert result.stdout.splitlines()[0] == f"# {tmp_path / 'teleinforeader.toml'}"


# --- the password --------------------------------------------------------------------------


def _mariadb_file(directory: Path, keys: str) -> Path:
    return _write(directory, f"[database.mariadb]\n{keys}\n")


@pytest.mark.parametrize(
    ("environment", "keys", "expected"),
    [
        (None, 'password_file = "{secret}"', " pass word "),
        (None, 'password = "inline"', "inline"),
        ("from-env", 'password_file = "{secret}"', "from-env"),
        ("from-env", 'password = "inline"', "from-env"),
        ("", 'password = "inline"', "inline"),
    ],
    ids=[
        "file, trailing newline removed",
        "inline",
        "environment over file",
        "environment over inline",
        "empty environment ignored",
    ],
)
def test_password_precedence(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    environment: str | None,
    keys: str,
    expected: str,
) -> None:
    secret = tmp_path / "password"
    secret.write_text(" pass word \r\n", encoding="utf-8")
    if environment is not None:
        monkeypatch.setenv(PASSWORD_ENVIRONMENT_VARIABLE, environment)
    settings = load_settings(_mariadb_file(tmp_path, keys.format(secret=secret)))
    assert settings.database.mariadb.password == expected


def test_environment_password_applies_with_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENVIRONMENT_VARIABLE, "from-env")
    defaults = load_settings(None, default_path=tmp_path / "absent.toml")
    assert defaults.database.mariadb.password == "from-env"


def test_environment_password_is_masked_by_check_config(
    tmp_path: Path, run_cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    result = run_cli(
        "check-config",
        "--config",
        str(_write(tmp_path, "")),
        env={PASSWORD_ENVIRONMENT_VARIABLE: "hunter2"},
    )
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout
    assert f'password = "{MASK}"' in result.stdout
    assert f"password: from ${PASSWORD_ENVIRONMENT_VARIABLE}" in result.stdout


def test_tls_files_that_exist_are_accepted(tmp_path: Path) -> None:
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("x")
    keys = "\n".join(
        ["tls = true"]
        + [f'tls_{key} = "{tmp_path / (key + ".pem")}"' for key in ("ca", "cert", "key")]
    )
    settings = load_settings(_mariadb_file(tmp_path, keys))
    assert settings.database.mariadb.tls_key == str(tmp_path / "key.pem")


def test_replay_of_a_readable_file_is_accepted(tmp_path: Path) -> None:
    capture = tmp_path / "capture.bin"
    capture.write_bytes(b"\x02\n")
    settings = load_settings(_write(tmp_path, f'[source]\ntype = "replay"\nfile = "{capture}"\n'))
    assert settings.source.file == str(capture)


# --- --log-level ----------------------------------------------------------------------------


def test_log_level_option_overrides_the_file(
    tmp_path: Path, run_cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    config = _write(tmp_path, '[daemon]\nlog_level = "error"\n')
    result = run_cli("check-config", "--config", str(config), "--log-level", "DEBUG")
    assert result.returncode == 0, result.stderr
    assert 'log_level = "debug"' in result.stdout.splitlines()


def test_unknown_log_level_option_is_a_usage_error(
    run_cli: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    result = run_cli("check-config", "--log-level", "loud")
    assert result.returncode == 2
    assert "argument --log-level: invalid choice: 'loud'" in result.stderr
    assert "Traceback" not in result.stderr
