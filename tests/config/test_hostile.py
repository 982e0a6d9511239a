"""Configurations written by a careless admin or an attacker: files that are no files, huge
values, secrets in the wrong place. Each one gets the one-line error and exit status 78, at
once, with no secret in it."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from teleinforeader.config import EX_CONFIG, MASK, ConfigError, load_settings, render_settings
from teleinforeader.settings import Settings, fields, is_secret, is_section
from tests.faults import fault_helpers

MEMORY_LIMIT = 512 * 1024 * 1024  # bytes of address space: /dev/zero read whole goes past it
HANG_GUARD = 30  # seconds: a FIFO opened for reading without a writer blocks for ever
SECRET = "73915502846"


def run_limited(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command, in a bounded address space, so a runaway read fails instead of
    eating the machine."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    return subprocess.run(
        [sys.executable, "-m", "teleinforeader", *args],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        preexec_fn=limit,
        check=False,
    )


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


def write_config(tmp_path: Path, text: str) -> Path:
    config = tmp_path / "teleinforeader.toml"
    config.write_text(text)
    return config


def assert_one_line_78(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert result.returncode == EX_CONFIG, result.stderr[-2000:]
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr
    return result.stderr


# --- files named by the configuration -------------------------------------------------------


def test_password_file_dev_zero_is_refused_without_reading_it(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[database.mariadb]\npassword_file = "/dev/zero"\n')
    result = run_limited("check-config", "--config", str(config))
    assert_one_line_78(
        result,
        '[database.mariadb] password_file: expected a readable file, found "/dev/zero"',
        "(a character device, not a regular file)",
    )


def test_password_file_fifo_does_not_block(tmp_path: Path, fifo: Path) -> None:
    config = write_config(tmp_path, f'[database.mariadb]\npassword_file = "{fifo}"\n')
    result = run_limited("check-config", "--config", str(config))
    assert_one_line_78(result, "password_file: expected a readable file", "(a FIFO, not a")
    result = run_limited("run", "--config", str(config))  # the daemon's start-up too
    assert_one_line_78(result, "password_file: expected a readable file", "(a FIFO, not a")


def test_a_huge_password_file_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "password"
    big.write_bytes(b"x" * (1024 * 1024))
    config = write_config(tmp_path, f'[database.mariadb]\npassword_file = "{big}"\n')
    with pytest.raises(
        ConfigError, match=r"password_file: expected a readable file, .* \(larger than 64 KiB\)$"
    ):
        load_settings(config)


@pytest.mark.parametrize("target", ["/dev/zero", "fifo", "directory"])
def test_config_that_is_no_regular_file_is_refused(tmp_path: Path, fifo: Path, target: str) -> None:
    path = {"/dev/zero": "/dev/zero", "fifo": str(fifo), "directory": str(tmp_path)}[target]
    result = run_limited("check-config", "--config", path)
    kind = {"/dev/zero": "a character device", "fifo": "a FIFO", "directory": "a directory"}
    assert_one_line_78(result, f"{path}: cannot read the configuration file", kind[target])


def test_dev_null_is_an_empty_file(tmp_path: Path) -> None:
    assert load_settings(Path("/dev/null")) == Settings()


def test_a_config_file_of_ten_megabytes_is_refused_at_once(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[source]\ndevice = "' + "x" * 10_000_000 + '"\n')
    result = run_limited("check-config", "--config", str(config))
    assert_one_line_78(result, "cannot read the configuration file", "larger than")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("[source] file", "replay"),
        ("[database.mariadb] tls_ca", "tls"),
    ],
)
def test_other_files_named_by_the_configuration_must_be_regular(
    tmp_path: Path, fifo: Path, key: str, value: str
) -> None:
    text = {
        "replay": f'[source]\ntype = "replay"\nfile = "{fifo}"\n',
        "tls": f'[database.mariadb]\ntls = true\ntls_ca = "{fifo}"\n',
    }[value]
    result = run_limited("check-config", "--config", str(write_config(tmp_path, text)))
    assert_one_line_78(result, f"{key}: expected a ", "(a FIFO, not a regular file)")


# --- long values ----------------------------------------------------------------------------

LONG = "x" * 900_000  # under the file's size bound


@pytest.mark.parametrize(
    "text",
    [
        f'[source]\nmode = "{LONG}"\n',  # one of a few names: no "did you mean" on a megabyte
        f'[server]\nport = "{LONG}"\n',
        f'[server]\n"{LONG}" = 1\n',  # an unknown key
        f'["{LONG}"]\n',  # an unknown section
        f'[server]\nallow = ["{LONG}"]\n',
    ],
    ids=["choice", "wrong type", "unknown key", "unknown section", "network"],
)
def test_a_long_value_gives_a_short_line(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write_config(tmp_path, text))
    message = str(caught.value)
    assert "\n" not in message
    assert len(message) < 1000, message[:1000]
    assert "900000 characters" in message


# --- secrets --------------------------------------------------------------------------------


def secret_keys(cls: type = Settings, section: str = "") -> Iterator[tuple[str, str]]:
    """(section, key) of every secret setting, those added later included."""
    for setting in fields(cls):
        if is_section(setting.type):
            yield from secret_keys(setting.type, f"{section}.{setting.name}".lstrip("."))
        elif is_secret(setting):
            yield section, setting.name


SECRET_KEYS = list(secret_keys())


def test_the_database_password_is_a_secret() -> None:
    assert ("database.mariadb", "password") in SECRET_KEYS


@pytest.mark.parametrize(
    "value",
    [SECRET, f"[{SECRET}]", f"{{ x = {SECRET} }}", f"{SECRET}.5", "true"],
    ids=["integer", "array", "table", "float", "boolean"],
)
@pytest.mark.parametrize(("section", "key"), SECRET_KEYS)
def test_a_secret_of_the_wrong_type_is_not_shown(
    tmp_path: Path,
    run_cli: Callable[..., subprocess.CompletedProcess[str]],
    section: str,
    key: str,
    value: str,
) -> None:
    config = write_config(tmp_path, f"[{section}]\n{key} = {value}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    message = str(caught.value)
    assert SECRET not in message and "true" not in message.rsplit("expected", maxsplit=1)[-1]
    assert f"[{section}] {key}: expected a string, found " in message
    assert "not shown: a secret" in message
    result = run_cli("check-config", "--config", str(config))
    assert result.returncode == EX_CONFIG and SECRET not in result.stderr + result.stdout


@pytest.mark.parametrize(("section", "key"), SECRET_KEYS)
def test_a_secret_is_masked_in_repr_and_check_config(
    tmp_path: Path,
    run_cli: Callable[..., subprocess.CompletedProcess[str]],
    section: str,
    key: str,
) -> None:
    config = write_config(tmp_path, f'[{section}]\n{key} = "{SECRET}"\n')
    settings = load_settings(config)
    assert SECRET not in repr(settings)
    assert SECRET not in render_settings(settings)
    result = run_cli("check-config", "--config", str(config))
    assert result.returncode == 0
    assert SECRET not in result.stdout + result.stderr
    assert f'{key} = "{MASK}"' in result.stdout


def test_the_daemon_never_logs_the_password(tmp_path: Path) -> None:
    """A MariaDB that refuses the connection, at debug level: the whole log, and the status
    lines, carry no password."""
    config = fault_helpers.write_config(
        tmp_path / "teleinforeader.toml",
        {
            "source": {"type": "simulator", "speed": 0},
            "database": {"backend": "mariadb", "store_interval": 0, "reconnect_delay": 0.1},
            "database.mariadb": {
                "host": "127.0.0.1",
                "port": fault_helpers.free_port(),  # nothing listens there
                "password": SECRET,
                "connect_timeout": 1,
            },
            "server": {"enabled": False},
            "daemon": {"state_directory": str(tmp_path / "state"), "log_level": "debug"},
        },
    )
    daemon = fault_helpers.DaemonProcess(config)
    try:
        daemon.wait_log("database unavailable", timeout=30)
        daemon.wait_log("summary: |ready", timeout=30)
    finally:
        status = daemon.terminate()
    assert status == 0
    assert daemon.log and all(SECRET not in line for line in daemon.log)
