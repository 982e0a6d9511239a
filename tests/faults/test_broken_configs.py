"""Twenty broken configuration files given to the daemon itself, as systemd starts it: each is
refused with one line on stderr naming the file and the key, exit status 78 (which the unit's
RestartPreventExitStatus= keeps from looping), nothing read, stored or served."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.faults.fault_helpers import daemon_environment

# (what the owner did, the file, what the one line must say)
BROKEN = [
    ("unclosed string", '[source]\ndevice = "/dev/serial0\n', "invalid TOML"),
    ("unclosed section header", "[source\ntype = 'serial'\n", "invalid TOML"),
    ("key given twice", "[server]\nport = 1\nport = 2\n", "invalid TOML"),
    ("not UTF-8", b"[source]\ndevice = '/dev/s\xe9rie'\n", "expected UTF-8 text"),
    ("misspelt section", "[sever]\nport = 50007\n", "[sever]: unknown section"),
    ("misspelt key", "[database]\nbakend = 'sqlite'\n", "[database] bakend: unknown key"),
    ("key above every section", "port = 50007\n", "port: key outside any section"),
    ("unknown source type", "[source]\ntype = 'usb'\n", "[source] type"),
    ("unknown mode", "[source]\nmode = 'linky'\n", "[source] mode"),
    ("unknown backend", "[database]\nbackend = 'postgres'\n", "[database] backend"),
    ("port as text", "[server]\nport = 'fifty'\n", "[server] port"),
    ("port out of range", "[database.mariadb]\nport = 70000\n", "[database.mariadb] port"),
    ("negative speed", "[source]\nspeed = -1\n", "[source] speed"),
    ("boolean as text", "[guard]\nenabled = 'no'\n", "[guard] enabled"),
    ("bad client network", "[server]\nallow = ['192.168.1.0/33']\n", "[server] allow"),
    ("unknown log level", "[daemon]\nlog_level = 'verbose'\n", "[daemon] log_level"),
    ("replay of a missing file", "[source]\ntype = 'replay'\nfile = '/no/such.bin'\n", "file"),
    (
        "password twice",
        "[database.mariadb]\npassword = 'a'\npassword_file = '/etc/hostname'\n",
        "password_file",
    ),
    (
        "TLS certificate without its key",
        "[database.mariadb]\ntls = true\ntls_cert = '/etc/hostname'\n",
        "[database.mariadb] tls_key",
    ),
    ("a section that is a value", "source = 'serial'\n", "source"),
]


def test_twenty_distinct_mistakes() -> None:
    assert len(BROKEN) == 20
    assert len({name for name, _, _ in BROKEN}) == 20


@pytest.mark.parametrize(("content", "says"), [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_the_daemon_refuses_a_broken_file_with_one_line_and_status_78(
    tmp_path: Path, content: str | bytes, says: str
) -> None:
    config = tmp_path / "teleinforeader.toml"
    if isinstance(content, str):
        content = content.encode()
    config.write_bytes(content)
    result = subprocess.run(
        [sys.executable, "-m", "teleinforeader", "--config", str(config)],
        capture_output=True,
        env=daemon_environment(STATE_DIRECTORY=str(tmp_path / "state")),
        timeout=15,
        check=False,
    )
    lines = result.stderr.decode().splitlines()
    assert result.returncode == 78, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{config}: "), lines[0]
    assert says in lines[0], lines[0]
    assert result.stdout == b""
    assert not (tmp_path / "state").exists()  # refused before anything was opened
