"""A meter's configuration written from the shipped example, and changed by options later: the
result is what the daemon's own loader accepts, with this meter's device, ports and directory."""

from __future__ import annotations

import socket
from pathlib import Path

from teleinforeader.config import load_settings
from teleinforeader.install.layout import Instance
from teleinforeader.install.mariadb import LocalDatabase
from teleinforeader.install.meterconfig import MeterConfig, choose_ports, new_config
from teleinforeader.install.tomledit import TomlLines

REPOSITORY = Path(__file__).resolve().parents[2]
EXAMPLE = (REPOSITORY / "config" / "teleinforeader.toml").read_text(encoding="utf-8")


def written(tmp_path: Path, config: MeterConfig, name: str = "meter.toml") -> Path:
    path = tmp_path / name
    path.write_text(config.lines.text, encoding="utf-8")
    return path


def test_a_new_configuration_is_the_example_with_this_meters_own_values(tmp_path: Path) -> None:
    ports = choose_ports(EXAMPLE, [])
    config = new_config(EXAMPLE, Instance(), "/dev/ttyUSB0", ports)
    settings = load_settings(written(tmp_path, config))
    assert settings.source.device == "/dev/ttyUSB0"
    assert settings.server.port == ports[("server", "port")]
    assert settings.daemon.state_directory == "/var/lib/teleinforeader"
    assert config.lines.text.startswith("# The configuration of teleinforeader for the meter")
    assert config.lines.text.count("\n#") > 50  # every comment of the example is still there
    assert config.changed == []


def test_a_second_meter_gets_ports_and_a_state_directory_of_its_own(tmp_path: Path) -> None:
    first = new_config(EXAMPLE, Instance(), "/dev/serial0", choose_ports(EXAMPLE, []))
    ports = choose_ports(EXAMPLE, [first.lines.text])
    second = new_config(EXAMPLE, Instance("garage"), "/dev/ttyUSB0", ports)
    one = load_settings(written(tmp_path, first, "one.toml"))
    two = load_settings(written(tmp_path, second, "two.toml"))
    assert two.server.port != one.server.port
    assert two.http.port != one.http.port
    assert two.daemon.state_directory == "/var/lib/teleinforeader@garage"


def test_a_port_taken_on_this_machine_is_not_given(tmp_path: Path) -> None:
    wanted = choose_ports(EXAMPLE, [])[("server", "port")]
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("0.0.0.0", wanted))
        taken.listen()
        assert choose_ports(EXAMPLE, [])[("server", "port")] > wanted


def test_an_option_changes_its_keys_only_and_says_which(tmp_path: Path) -> None:
    edited = EXAMPLE.replace("status_interval = 300.0", "status_interval = 60.0  # mine")
    config = MeterConfig(TomlLines(edited))
    database = LocalDatabase()
    config.set(database.settings())
    assert '[database] backend = "mariadb" (was "sqlite")' in config.changed
    assert all("password =" not in change for change in config.changed)  # "" was already so
    password = tmp_path / "db-password"
    password.write_text("secret\n")
    text = config.lines.text.replace('"/etc/teleinforeader/db-password"', f'"{password}"')
    settings = load_settings(written(tmp_path, MeterConfig(TomlLines(text))))
    assert settings.database.backend == "mariadb"
    assert settings.database.mariadb.unix_socket == "/run/mysqld/mysqld.sock"
    assert settings.daemon.status_interval == 60.0
    assert "status_interval = 60.0  # mine" in config.lines.text


def test_a_password_is_never_shown_in_what_changed() -> None:
    config = MeterConfig(TomlLines(EXAMPLE))
    config.set({("database.mariadb", "password"): "hunter2"})
    assert config.changed == ["[database.mariadb] password = (hidden) (was (hidden))"]
