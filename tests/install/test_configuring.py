"""The configuration step's plan: what the options change, and the extras the result needs."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from teleinforeader.config import load_settings
from teleinforeader.install.configuring import Mqtt, needs_extras, plan
from teleinforeader.install.layout import Instance
from teleinforeader.install.report import Report
from teleinforeader.install.system import Host

REPOSITORY = Path(__file__).resolve().parents[2]
EXAMPLE = (REPOSITORY / "config" / "teleinforeader.toml").read_text(encoding="utf-8")


def quiet_host() -> tuple[Host, io.StringIO]:
    said = io.StringIO()
    return Host(Report(said)), said


def test_a_broker_given_again_turns_mqtt_on_in_the_kept_file(tmp_path: Path) -> None:
    host, _ = quiet_host()
    mine = EXAMPLE.replace("status_interval = 300.0", "status_interval = 30.0")
    broker = Mqtt.parse("broker.lan:1884", "ha")
    config = plan(
        host, Instance(), EXAMPLE, mine, [], device=None, local_mariadb=False, mqtt=broker
    )
    assert not config.created
    assert "[mqtt] enabled = true (was false)" in config.changed
    assert '[mqtt] username = "ha" (was "")' in config.changed
    password = tmp_path / "mqtt-password"
    password.write_text("pw\n")
    text = config.lines.text.replace(
        '"/etc/teleinforeader/teleinforeader.mqtt-password"', f'"{password}"'
    )
    (tmp_path / "t.toml").write_text(text)
    settings = load_settings(tmp_path / "t.toml")
    assert (settings.mqtt.enabled, settings.mqtt.host, settings.mqtt.port) == (
        True,
        "broker.lan",
        1884,
    )
    assert settings.daemon.status_interval == 30.0  # the owner's edit stays
    assert needs_extras([config.lines.text], local_mariadb=False) == ["mqtt"]


def test_a_new_meter_says_which_device_and_ports_it_got() -> None:
    host, said = quiet_host()
    config = plan(
        host,
        Instance("garage"),
        EXAMPLE,
        None,
        [EXAMPLE],
        device="/dev/ttyUSB3",
        local_mariadb=True,
        mqtt=None,
    )
    assert config.created
    [said_changes] = config.changed
    found = re.fullmatch(
        r"device /dev/ttyUSB3 \(given\), \[server\] port (\d+), \[http\] port (\d+)", said_changes
    )
    assert found, said_changes
    assert int(found[1]) > 50007 and int(found[2]) > 8080  # the first meter's are taken
    assert needs_extras([config.lines.text], local_mariadb=True) == ["mariadb"]
    assert said.getvalue() == ""


def test_the_extras_follow_every_meters_configuration() -> None:
    assert needs_extras([EXAMPLE], local_mariadb=False) == []
    mariadb = EXAMPLE.replace('backend = "sqlite"', 'backend = "mariadb"')
    assert needs_extras([EXAMPLE, mariadb], local_mariadb=False) == ["mariadb"]


@pytest.mark.parametrize(
    ("address", "host", "port"),
    [("broker", "broker", None), ("10.0.0.2:8883", "10.0.0.2", 8883), ("fd00::1", "fd00::1", None)],
)
def test_broker_addresses(address: str, host: str, port: int | None) -> None:
    assert Mqtt.parse(address, None) == Mqtt(host, port, None)


def test_a_broker_port_that_is_no_port_is_refused() -> None:
    with pytest.raises(ValueError, match="from 1 to 65535"):
        Mqtt.parse("broker:99999", None)
