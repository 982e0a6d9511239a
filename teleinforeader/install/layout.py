"""Where an installation puts everything: one place to read it, the same for every step.

One program (`/opt/teleinforeader/venv`, a link to the current release) serves every meter.
Each meter is a unit: `teleinforeader` for a one-meter home, `teleinforeader@NAME` for each
meter of a home with several; the unit file names each one's files after the unit (systemd's
`%N`, config/teleinforeader.service), and `Instance` says the same in Python.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

SERVICE_USER = "teleinforeader"
SERIAL_GROUP = "dialout"  # owns the serial devices on Debian and Raspberry Pi OS
PREFIX = Path("/opt/teleinforeader")
VENV_LINK = PREFIX / "venv"  # what the unit's ExecStart= runs: a link to the current release
RELEASES = PREFIX / "releases"
CONFIG_DIRECTORY = Path("/etc/teleinforeader")
PASSWORD_FILE = CONFIG_DIRECTORY / "db-password"
LOCAL_MARIADB_MARK = CONFIG_DIRECTORY / "local-mariadb"  # the database the installer created
SYSUSERS_FILE = Path("/etc/sysusers.d/teleinforeader.conf")
UNIT_DIRECTORY = Path("/etc/systemd/system")
UNIT_NAMES = ("teleinforeader.service", "teleinforeader@.service")  # one file, both names
STATE_ROOT = Path("/var/lib")
UNIT_PREFIX = "teleinforeader"

_INSTANCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def check_instance_name(name: str) -> str:
    """`name` if it can name a meter's unit (teleinforeader@NAME), else ValueError."""
    if not _INSTANCE_NAME.fullmatch(name):
        raise ValueError(
            f"instance name {name!r}: use letters, digits, '-' and '_' (such as garage or "
            "production), starting with a letter or a digit"
        )
    return name


@dataclass(frozen=True)
class Instance:
    """One meter's unit and its files; `name` None is the plain `teleinforeader` unit."""

    name: str | None = None

    @property
    def unit_stem(self) -> str:
        """What systemd's %N expands to: the unit name without ".service"."""
        return UNIT_PREFIX if self.name is None else f"{UNIT_PREFIX}@{self.name}"

    @property
    def unit(self) -> str:
        return f"{self.unit_stem}.service"

    @property
    def config(self) -> Path:
        return CONFIG_DIRECTORY / f"{self.unit_stem}.toml"

    @property
    def state_directory(self) -> Path:
        return STATE_ROOT / self.unit_stem

    @property
    def described(self) -> str:
        return "the meter" if self.name is None else f"meter {self.name!r}"

    @classmethod
    def from_config_name(cls, file_name: str) -> Instance | None:
        """The instance whose configuration file is named `file_name`, None for another file."""
        stem, dot, suffix = file_name.rpartition(".")
        if not dot or suffix != "toml":
            return None
        if stem == UNIT_PREFIX:
            return cls()
        prefix, at, name = stem.partition("@")
        if prefix != UNIT_PREFIX or not at or not _INSTANCE_NAME.fullmatch(name):
            return None
        return cls(name)


def installed_instances(config_directory: Path = CONFIG_DIRECTORY) -> list[Instance]:
    """Every instance that has a configuration file, the plain unit first."""
    try:
        names = os.listdir(config_directory)
    except OSError:
        return []
    found = [instance for instance in map(Instance.from_config_name, names) if instance]
    return sorted(found, key=lambda instance: (instance.name is not None, instance.name or ""))
