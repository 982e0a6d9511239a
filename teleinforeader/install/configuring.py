"""This meter's configuration step: planned first, written only once the new release accepts it.

The plan says what the file will hold (new from the example, or the owner's with the options'
keys changed) before anything is built, so that the extras the configuration needs ([mqtt],
MariaDB) go into the release. The file is then written beside the real one, checked there by
the new release as the service's user, and only then moved into place: a configuration the new
release refuses never replaces the one the running release reads.
"""

from __future__ import annotations

import getpass
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from teleinforeader.install import mariadb
from teleinforeader.install.devices import detect_device
from teleinforeader.install.layout import CONFIG_DIRECTORY, SERVICE_USER, Instance
from teleinforeader.install.meterconfig import MeterConfig, choose_ports, new_config, used_values
from teleinforeader.install.system import Host, InstallError
from teleinforeader.install.tomledit import TomlLines, Value


@dataclass(frozen=True)
class Mqtt:
    """--mqtt HOST[:PORT] and --mqtt-user NAME: the broker the meter publishes to."""

    host: str
    port: int | None = None
    user: str | None = None

    @classmethod
    def parse(cls, address: str, user: str | None) -> Mqtt:
        host, colon, port = (
            address.rpartition(":") if address.count(":") == 1 else (address, "", "")
        )
        if not colon:
            return cls(address, None, user)
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"--mqtt {address!r}: the port must be a number from 1 to 65535")
        return cls(host, int(port), user)

    def settings(self, password_file: Path) -> dict[tuple[str, str], Value]:
        changes: dict[tuple[str, str], Value] = {
            ("mqtt", "enabled"): True,
            ("mqtt", "host"): self.host,
        }
        if self.port is not None:
            changes[("mqtt", "port")] = self.port
        if self.user is not None:
            changes[("mqtt", "username")] = self.user
            changes[("mqtt", "password")] = ""
            changes[("mqtt", "password_file")] = str(password_file)
        return changes


def plan(
    host: Host,
    instance: Instance,
    example: str,
    existing: str | None,
    others: list[str],
    *,
    device: str | None,
    local_mariadb: bool,
    mqtt: Mqtt | None,
) -> MeterConfig:
    """The file this meter will have: `existing` (None for a new one) with what the options
    ask; a new file gets a device and ports that none of the `others` uses."""
    changes: dict[tuple[str, str], Value] = {}
    if local_mariadb:
        changes.update(mariadb.LocalDatabase().settings())
    if mqtt is not None:
        changes.update(mqtt.settings(mqtt_password_file(instance)))
    if existing is not None:
        if device is not None:
            changes[("source", "device")] = device
        config = MeterConfig(TomlLines(existing))
        config.set(changes)
        return config
    device, how = _choose_device(host, device, others)
    ports = choose_ports(example, others)
    config = new_config(example, instance, device, ports)
    config.set(changes)
    config.created = True
    listening = ", ".join(f"[{section}] port {port}" for (section, _), port in ports.items())
    config.changed[:] = [f"device {device} ({how}), {listening}"]
    return config


def write_checked(host: Host, release: Path, instance: Instance, config: MeterConfig) -> None:
    """The planned file in place, once the new release has read it as the service will."""
    if not (config.created or config.changed):
        _check(host, release, instance.config)
        host.report.kept(f"configuration {instance.config}, as you left it (checked)")
        return
    host.make_directory(CONFIG_DIRECTORY, 0o755)
    candidate = instance.config.with_name(f".{instance.config.name}.new")
    host.write_file(candidate, config.lines.text, mode=0o640, group=SERVICE_USER)
    try:
        _check(host, release, candidate)
    except InstallError:
        candidate.unlink(missing_ok=True)
        raise
    os.replace(candidate, instance.config)
    for change in config.changed:
        host.report.did(f"configuration {instance.config}: {change}")


def read_mqtt_password(user: str, interactive: bool) -> str:
    """The broker account's password, asked at a terminal or read from standard input: never
    an argument, which the shell's history and /proc keep."""
    if interactive:
        password = getpass.getpass(f"MQTT password of {user!r} (kept in a file, never shown): ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise InstallError(
            f"--mqtt-user {user}: no password (at a terminal it is asked; otherwise give it "
            "on the installer's standard input)"
        )
    return password


def write_mqtt_password(host: Host, instance: Instance, user: str, password: str) -> None:
    """Into a file only root and the service's group read, which the configuration names."""
    path = mqtt_password_file(instance)
    changed = host.write_file(path, password + "\n", mode=0o640, group=SERVICE_USER)
    (host.report.did if changed else host.report.kept)(
        f"MQTT password of {user!r} in {path} (readable by root and {SERVICE_USER} only)"
    )


def mqtt_password_file(instance: Instance) -> Path:
    return CONFIG_DIRECTORY / f"{instance.unit_stem}.mqtt-password"


def needs_extras(texts: list[str], local_mariadb: bool) -> list[str]:
    """The package extras the meters' configurations need: one program serves them all."""
    extras = []
    if local_mariadb or "mariadb" in used_values(texts, "database", "backend"):
        extras.append("mariadb")
    if True in used_values(texts, "mqtt", "enabled"):
        extras.append("mqtt")
    return extras


def _choose_device(host: Host, given: str | None, others: list[str]) -> tuple[str, str]:
    """The device a new configuration names, and how it was chosen (for the report)."""
    if given is not None:
        return given, "given"
    found = detect_device(used_values(others, "source", "device"))
    if not found.found:
        host.report.warn(
            f"no serial device found: the configuration names {found.device}, a PiTInfo "
            "shield's once the UART is on (README, the serial port); --device names another"
        )
        return found.device, "none found"
    if found.others:
        host.report.warn(f"also found {', '.join(found.others)}: --device chooses another one")
    return found.device, "found"


def _check(host: Host, release: Path, path: Path) -> None:
    """The new release reads the file as the service will (as its user): a mistake stops the
    install here, with the meter still read by the release in service."""
    result = host.run(
        [str(release / "bin" / "teleinforeader"), "check-config", "--config", str(path)],
        as_service_user=True,
        check=False,
    )
    if result.returncode != 0:
        raise InstallError(
            f"the configuration does not suit teleinforeader {release.name}: "
            f"{result.stderr.strip()}\n    fix it, then run the installer again (nothing was "
            "switched: what was running still is)"
        )
