"""systemd unit files as systemd reads them, for the tests of the shipped unit and the installer."""

from __future__ import annotations

import shlex
from pathlib import Path


def read_unit(path: Path) -> dict[str, list[str]]:
    """`Section.Key` -> every value it is given, in order (systemd keys may repeat)."""
    settings: dict[str, list[str]] = {}
    section = ""
    for raw_line in path.read_text(encoding="utf-8").splitlines():
        line = raw_line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        settings.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return settings


def exec_start(unit: dict[str, list[str]]) -> list[str]:
    (command,) = unit["Service.ExecStart"]
    return shlex.split(command)


def instance_paths(unit: dict[str, list[str]], name: str) -> dict[str, str]:
    """The files the unit installed as `name` ("teleinforeader" or "teleinforeader@garage")
    gives its daemon, with %N expanded as systemd does (the unit name without .service)."""
    command = [word.replace("%N", name) for word in exec_start(unit)]
    (state,) = unit["Service.StateDirectory"]
    (runtime,) = unit["Service.RuntimeDirectory"]
    (environment,) = unit["Service.EnvironmentFile"]
    return {
        "config": command[command.index("--config") + 1],
        "state": "/var/lib/" + state.replace("%N", name),
        "runtime": "/run/" + runtime.replace("%N", name),
        "environment": environment.lstrip("-").replace("%N", name),
    }
