"""Uninstall: the service and the program go; the data and the configuration stay unless asked.

Without --purge, what someone would regret losing is kept (the frames in the state directories
and a local MariaDB database, the configuration files with their edits, the user owning them),
and a later `uninstall --purge`, or a new install that finds them, takes them up again. With
--purge everything the installer made is removed, the MariaDB server package excepted (other
programs may use it).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from teleinforeader.install import mariadb
from teleinforeader.install.layout import (
    CONFIG_DIRECTORY,
    PREFIX,
    SERVICE_USER,
    STATE_ROOT,
    SYSUSERS_FILE,
    UNIT_DIRECTORY,
    UNIT_NAMES,
    UNIT_PREFIX,
    Instance,
    installed_instances,
)
from teleinforeader.install.system import Host, user_exists

PURGE_HINT = "sudo python3 -m teleinforeader.install uninstall --purge"


def uninstall(host: Host, instance: Instance | None, purge: bool) -> int:
    """Remove one meter (`instance`), or everything (None)."""
    if instance is not None:
        return _remove_meter(host, instance, purge)
    host.report.title("teleinforeader: uninstalling" + (", data included" if purge else ""))
    for unit in _units(host):
        _stop_and_disable(host, unit)
    for name in UNIT_NAMES:
        _remove(host, UNIT_DIRECTORY / name, "systemd unit")
    host.systemctl("daemon-reload")
    host.systemctl("reset-failed", f"{UNIT_PREFIX}*", check=False)
    _remove(host, PREFIX, "program")
    if not purge:
        kept = [str(path) for path in _state_directories()] + [str(CONFIG_DIRECTORY)]
        database = mariadb.created_by_installer()
        if database is not None:
            kept.append(f"MariaDB database {database.database!r}")
        if user_exists():
            kept.append(f"user {SERVICE_USER}")
        host.report.kept(f"kept {', '.join(kept)}: {PURGE_HINT} removes them")
        return 0
    for drop_in in sorted(UNIT_DIRECTORY.glob(f"{UNIT_PREFIX}*.service.d")):
        _remove(host, drop_in, "your unit drop-ins")
    database = mariadb.created_by_installer()
    if database is not None:
        mariadb.drop(host, database)
        host.report.removed(f"MariaDB database {database.database!r} and user {database.user!r}")
    for state in _state_directories():
        _remove(host, state, "data")
    _remove(host, CONFIG_DIRECTORY, "configuration")
    if user_exists():
        host.run(["userdel", SERVICE_USER])
        host.report.removed(f"user {SERVICE_USER}")
    _remove(host, SYSUSERS_FILE, "user definition")
    return 0


def _remove_meter(host: Host, instance: Instance, purge: bool) -> int:
    host.report.title(f"teleinforeader: removing {instance.unit}")
    _stop_and_disable(host, instance.unit)
    host.systemctl("reset-failed", instance.unit, check=False)
    files = [instance.config, CONFIG_DIRECTORY / f"{instance.unit_stem}.environment"]
    if not purge:
        kept = [path for path in [instance.state_directory, *files] if path.exists()]
        if kept:
            listed = ", ".join(map(str, kept))
            host.report.kept(f"kept {listed}: --purge with --instance removes them")
        return 0
    for path in [*files, UNIT_DIRECTORY / f"{instance.unit}.d", instance.state_directory]:
        _remove(host, path, "")
    return 0


def _units(host: Host) -> list[str]:
    """Every teleinforeader unit systemd knows or a configuration file names."""
    listed = host.systemctl(
        "list-units",
        "--all",
        "--plain",
        "--no-legend",
        "--type=service",
        f"{UNIT_PREFIX}*",
        check=False,
    ).stdout
    loaded = re.findall(rf"^\s*({UNIT_PREFIX}(?:@\S+)?\.service)\s", listed, re.MULTILINE)
    configured = [instance.unit for instance in installed_instances()]
    return sorted(set(loaded) | set(configured))


def _stop_and_disable(host: Host, unit: str) -> None:
    if host.unit_state(unit) in {"active", "activating", "reloading", "deactivating"}:
        host.systemctl("stop", unit)
        host.report.removed(f"stopped {unit}")
    if host.systemctl("is-enabled", unit, check=False).stdout.strip() == "enabled":
        host.systemctl("disable", unit)
        host.report.removed(f"disabled {unit}")


def _state_directories() -> list[Path]:
    return sorted(
        path
        for path in STATE_ROOT.glob(f"{UNIT_PREFIX}*")
        if path.name == UNIT_PREFIX or path.name.startswith(f"{UNIT_PREFIX}@")
    )


def _remove(host: Host, path: Path, what: str) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    else:
        return
    host.report.removed(f"{path}" + (f" ({what})" if what else ""))
