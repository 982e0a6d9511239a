"""A meter's configuration file: written once from the shipped example, then the owner's.

A new file is the example (every key, commented, at its default) with what this meter needs of
its own: the serial device found, ports no other meter uses, its state directory, and the
database the options chose. An existing file is kept as it is; an option given again on a later
run changes its key and nothing else, and the installer says which.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from teleinforeader.install.layout import Instance
from teleinforeader.install.tomledit import TomlLines, Value, render

# Listening ports a meter has of its own: (section, key, the first meter's port). A section the
# example does not have (a sink this release does not ship) is left out.
LISTENING_PORTS = (("server", "port", 50007), ("http", "port", 8080))

Changes = Mapping[tuple[str, str], Value]


@dataclass
class MeterConfig:
    """A configuration file's text, and what was changed in it, for the report."""

    lines: TomlLines
    changed: list[str] = field(default_factory=list)
    created: bool = False  # a new file, not one found there

    def set(self, changes: Changes) -> None:
        for (section, key), value in changes.items():
            before = self.lines.get(section, key)
            if self.lines.set(section, key, value):
                was = "" if before is None else f" (was {_show(key, before)})"
                self.changed.append(f"[{section}] {key} = {_show(key, value)}{was}")


def new_config(
    example: str, instance: Instance, device: str, ports: Mapping[tuple[str, str], int]
) -> MeterConfig:
    """The example made this meter's: a header saying whose file it is, the device, the ports
    and its state directory (the unit gives the same one; commands run by hand need it too)."""
    header = (
        f"# The configuration of teleinforeader for {instance.described} ({instance.unit}),\n"
        "# written by the installer from the example below. It is yours to edit: a later run of\n"
        "# the installer keeps it, checks it, and changes a key only when an option asks for it.\n"
        "#\n"
    )
    config = MeterConfig(TomlLines(header + example))
    changes: dict[tuple[str, str], Value] = {("source", "device"): device}
    changes.update(ports)
    changes[("daemon", "state_directory")] = str(instance.state_directory)
    config.set(changes)
    config.changed.clear()  # a new file: everything in it is new
    return config


def used_values(configs: Iterable[str], section: str, key: str) -> list[Value]:
    """`section`.`key` in each of `configs` (texts) that sets it."""
    values = (TomlLines(text).get(section, key) for text in configs)
    return [value for value in values if value is not None]


def choose_ports(example: str, others: Iterable[str]) -> dict[tuple[str, str], int]:
    """For each listening port the example has, the first one from its default up that no
    other meter's configuration names and that is free on this machine now."""
    example_sections = set(TomlLines(example).sections())
    texts = list(others)
    chosen = {}
    for section, key, first in LISTENING_PORTS:
        if section not in example_sections:
            continue
        taken = {value for value in used_values(texts, section, key) if isinstance(value, int)}
        port = first
        while port in taken or not port_is_free(port):
            port += 1
        chosen[(section, key)] = port
    return chosen


def port_is_free(port: int) -> bool:
    """Whether a listening socket could bind `port` on every IPv4 address now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def _show(key: str, value: Value) -> str:
    """A value for the report; a password is never shown."""
    return "(hidden)" if key == "password" else render(value)


def read_configs(paths: Iterable[Path]) -> list[str]:
    """The texts of the configuration files that exist and can be read."""
    texts = []
    for path in paths:
        try:
            texts.append(path.read_text(encoding="utf-8"))
        except OSError:
            continue
    return texts
