"""Every broken configuration gets one line naming the file, the key, what was expected and
what was found: through the API, and through the real command with exit status 78."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from teleinforeader.config import EX_CONFIG, ConfigError, load_settings

# (name, file content, the exact error; {file} is the configuration file, {dir} its directory,
# which also holds a directory "adir" and a file "present")
BROKEN: list[tuple[str, str, str]] = [
    (
        "port not a number",
        '[server]\nport = "abc"\n',
        '{file}: [server] port: expected an integer from 1 to 65535, found "abc"',
    ),
    (
        "port zero",
        "[server]\nport = 0\n",
        "{file}: [server] port: expected an integer from 1 to 65535, found 0",
    ),
    (
        "port too large",
        "[database.mariadb]\nport = 65536\n",
        "{file}: [database.mariadb] port: expected an integer from 1 to 65535, found 65536",
    ),
    (
        "integer key given a float",
        "[database]\nbatch_size = 1.5\n",
        "{file}: [database] batch_size: expected an integer of at least 1, found 1.5",
    ),
    (
        "integer key given a boolean",
        "[server]\nmax_clients = true\n",
        "{file}: [server] max_clients: expected an integer of at least 1, found true",
    ),
    (
        "batch size zero",
        "[database]\nbatch_size = 0\n",
        "{file}: [database] batch_size: expected an integer of at least 1, found 0",
    ),
    (
        "negative interval",
        "[database]\nstore_interval = -1\n",
        "{file}: [database] store_interval: expected a number of at least 0, found -1",
    ),
    (
        "zero where a positive interval is needed",
        "[source]\nsilence_timeout = 0\n",
        "{file}: [source] silence_timeout: expected a number greater than 0, found 0",
    ),
    (
        "a reconnection delay of zero would retry in a tight loop",
        "[database]\nreconnect_delay = 0.0\n",
        "{file}: [database] reconnect_delay: expected a number greater than 0, found 0.0",
    ),
    (
        "not a finite number",
        "[daemon]\nstatus_interval = nan\n",
        "{file}: [daemon] status_interval: expected a number of at least 0, found nan",
    ),
    (
        "boolean given an integer",
        "[server]\nenabled = 1\n",
        "{file}: [server] enabled: expected true or false, found 1",
    ),
    (
        "boolean given a string",
        '[source]\nloop = "yes"\n',
        '{file}: [source] loop: expected true or false, found "yes"',
    ),
    (
        "string given an integer",
        "[source]\ndevice = 5\n",
        "{file}: [source] device: expected a string, found 5",
    ),
    (
        "string given a date",
        "[database]\nreader = 1979-05-27\n",
        "{file}: [database] reader: expected a string, found 1979-05-27",
    ),
    (
        "enumeration with a close match",
        '[source]\nmode = "historique"\n',
        '{file}: [source] mode: expected one of "auto", "historic", "standard", '
        'found "historique" (did you mean "historic"?)',
    ),
    (
        "enumeration with no close match",
        '[database]\nbackend = "postgresql"\n',
        '{file}: [database] backend: expected one of "sqlite", "mariadb", "none", '
        'found "postgresql"',
    ),
    (
        "log level",
        '[daemon]\nlog_level = "verbose"\n',
        '{file}: [daemon] log_level: expected one of "debug", "info", "warning", "error", '
        '"critical", found "verbose"',
    ),
    (
        "unknown simulator profile",
        '[source]\nprofile = "historic-hc"\n',
        '{file}: [source] profile: expected one of "historic-base", "historic-hchp", '
        '"historic-tempo", "historic-tri", "standard-mono", "standard-tri", '
        '"standard-producer", '
        'found "historic-hc" (did you mean "historic-hchp"?)',
    ),
    (
        "a newline in a value stays on the one line",
        '[source]\ntype = "serial\\nreplay"\n',
        '{file}: [source] type: expected one of "serial", "replay", "simulator", '
        'found "serial\\nreplay" (did you mean "serial"?)',
    ),
    (
        "unknown key with a close match",
        "[server]\nprot = 50007\n",
        "{file}: [server] prot: unknown key; did you mean port?",
    ),
    (
        "unknown key with no close match",
        "[guard]\nzzz = 1\n",
        "{file}: [guard] zzz: unknown key; expected one of enabled, max_power",
    ),
    (
        "unknown section",
        "[serveur]\nport = 1\n",
        "{file}: [serveur]: unknown section; did you mean [server]?",
    ),
    (
        "unknown subsection",
        "[database.mariabd]\nhost = 'db'\n",
        "{file}: [database.mariabd]: unknown section; did you mean [database.mariadb]?",
    ),
    (
        "subsection where there is none",
        "[server.tls]\nenabled = true\n",
        "{file}: [server.tls]: unknown section; [server] has no subsections",
    ),
    (
        "key above every section",
        "port = 50007\n",
        "{file}: port: key outside any section; did you mean [server] port?",
    ),
    (
        "section given a value",
        "server = 1\n",
        "{file}: server: expected a section [server], found 1",
    ),
    (
        "subsection given a value",
        "[database]\nmariadb = 3\n",
        "{file}: [database] mariadb: expected a section [database.mariadb], found 3",
    ),
    (
        "TOML syntax error",
        "[server]\nport = \n",
        "{file}: line 2, column 8: invalid TOML: Invalid value",
    ),
    (
        "TOML duplicate key",
        "[server]\nport = 1\nport = 2\n",
        "{file}: line 3, column 9: invalid TOML: Cannot overwrite a value",
    ),
    (
        "not UTF-8",
        "[server]\n# caf\xe9 in Latin-1\n",
        "{file}: line 2: expected UTF-8 text, found the byte 0xe9",
    ),
    (
        "allow is not an array",
        '[server]\nallow = "192.168.1.0/24"\n',
        "{file}: [server] allow: expected an array whose items are each a network in CIDR "
        'notation, such as "192.168.1.0/24", found "192.168.1.0/24"',
    ),
    (
        "allow item with host bits",
        '[server]\nallow = ["127.0.0.1", "192.168.1.5/24"]\n',
        "{file}: [server] allow[1]: expected a network in CIDR notation, such as "
        '"192.168.1.0/24", found "192.168.1.5/24" (192.168.1.5/24 has host bits set)',
    ),
    (
        "allow item not a network",
        '[server]\nallow = ["192.168.1.0/33"]\n',
        "{file}: [server] allow[0]: expected a network in CIDR notation, such as "
        '"192.168.1.0/24", found "192.168.1.0/33" (\'192.168.1.0/33\' does not appear to be '
        "an IPv4 or IPv6 network)",
    ),
    (
        "allow item not a string",
        "[server]\nallow = [10]\n",
        "{file}: [server] allow[0]: expected a network in CIDR notation, such as "
        '"192.168.1.0/24", found 10',
    ),
    (
        "replay without a file",
        '[source]\ntype = "replay"\n',
        '{file}: [source] file: expected a readable capture file when type = "replay", found ""',
    ),
    (
        "replay of a missing file",
        '[source]\ntype = "replay"\nfile = "{dir}/missing.bin"\n',
        '{file}: [source] file: expected a readable capture file when type = "replay", '
        'found "{dir}/missing.bin" (No such file or directory)',
    ),
    (
        "replay of a directory",
        '[source]\ntype = "replay"\nfile = "{dir}/adir"\n',
        '{file}: [source] file: expected a readable capture file when type = "replay", '
        'found "{dir}/adir" (a directory, not a regular file)',
    ),
    (
        "password and password_file both",
        '[database.mariadb]\npassword = "a"\npassword_file = "{dir}/present"\n',
        "{file}: [database.mariadb] password_file: expected either password or password_file, "
        "found both",
    ),
    (
        "password_file missing",
        '[database.mariadb]\npassword_file = "{dir}/missing"\n',
        "{file}: [database.mariadb] password_file: expected a readable file, "
        'found "{dir}/missing" (No such file or directory)',
    ),
    (
        "password_file a directory",
        '[database.mariadb]\npassword_file = "{dir}/adir"\n',
        "{file}: [database.mariadb] password_file: expected a readable file, "
        'found "{dir}/adir" (a directory, not a regular file)',
    ),
    (
        "TLS CA missing",
        '[database.mariadb]\ntls = true\ntls_ca = "{dir}/ca.pem"\n',
        "{file}: [database.mariadb] tls_ca: expected a readable file, "
        'found "{dir}/ca.pem" (No such file or directory)',
    ),
    (
        "TLS certificate without its key",
        '[database.mariadb]\ntls = true\ntls_cert = "{dir}/present"\n',
        '{file}: [database.mariadb] tls_key: expected tls_cert and tls_key together, found ""',
    ),
]


def _write_case(directory: Path, content: str) -> Path:
    """The broken file of a case, next to the files its paths point at."""
    (directory / "adir").mkdir()
    (directory / "present").write_text("x\n")
    config = directory / "teleinforeader.toml"
    config.write_bytes(content.replace("{dir}", str(directory)).encode("latin-1"))
    return config


def _expected(message: str, config: Path) -> str:
    return message.replace("{file}", str(config)).replace("{dir}", str(config.parent))


def test_the_table_is_large_and_every_message_distinct() -> None:
    assert len(BROKEN) >= 20
    assert len({message for _, _, message in BROKEN}) == len(BROKEN)


@pytest.mark.parametrize(
    ("content", "message"), [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN]
)
def test_api_error_is_one_exact_line(tmp_path: Path, content: str, message: str) -> None:
    config = _write_case(tmp_path, content)
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert str(caught.value) == _expected(message, config)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("content", "message"), [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN]
)
def test_check_config_exits_78_with_the_one_line(
    tmp_path: Path,
    run_cli: Callable[..., subprocess.CompletedProcess[str]],
    content: str,
    message: str,
) -> None:
    config = _write_case(tmp_path, content)
    result = run_cli("check-config", "--config", str(config))
    assert result.returncode == EX_CONFIG == 78
    assert result.stderr == _expected(message, config) + "\n"
    assert result.stdout == ""


def test_explicit_missing_file_is_an_error(
    tmp_path: Path, run_cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError, match=r"nowhere\.toml: cannot read"):
        load_settings(missing)
    result = run_cli("check-config", "--config", str(missing))
    assert result.returncode == 78
    assert result.stderr == (
        f"{missing}: cannot read the configuration file: No such file or directory\n"
    )


def test_existing_default_file_that_is_broken_is_an_error(tmp_path: Path) -> None:
    default = tmp_path / "teleinforeader.toml"
    default.write_text("[server]\nport = -1\n")
    with pytest.raises(ConfigError, match=r"\[server\] port: expected an integer from 1"):
        load_settings(None, default_path=default)


@pytest.mark.parametrize("command", [[], ["run"]], ids=["default command", "run"])
def test_the_daemon_refuses_a_broken_file_the_same_way(
    tmp_path: Path, run_cli: Callable[..., subprocess.CompletedProcess[str]], command: list[str]
) -> None:
    config = _write_case(tmp_path, "[serveur]\nport = 1\n")
    result = run_cli(*command, "--config", str(config))
    assert result.returncode == 78
    assert result.stderr == f"{config}: [serveur]: unknown section; did you mean [server]?\n"
