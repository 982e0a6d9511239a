"""The systemd unit: scored by systemd itself, verified, and true to the daemon it starts."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from teleinforeader import settings
from teleinforeader.cli import build_parser
from tests.support.units import exec_start, instance_paths

REPOSITORY = Path(__file__).resolve().parents[2]
UNIT_FILE = REPOSITORY / "config" / "teleinforeader.service"
SYSUSERS_FILE = REPOSITORY / "config" / "teleinforeader.sysusers"
VENV_BIN = Path(sys.executable).parent

MAX_EXPOSURE = 1.5
SERIAL_DEVICE_GROUPS = {"char-ttyAMA", "char-ttyS", "char-ttyUSB", "char-ttyACM"}


def test_security_exposure_is_at_most_1_5(system_tool):
    result = subprocess.run(
        [
            system_tool("systemd-analyze"),
            "security",
            "--offline=true",
            "--no-pager",
            str(UNIT_FILE),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert found, result.stdout + result.stderr
    # systemd rounds the exposure up to one decimal, so the printed figure is an upper bound.
    assert float(found.group(1)) <= MAX_EXPOSURE, result.stdout


INSTALLED_NAMES = ("teleinforeader.service", "teleinforeader@.service")


def install_root(tmp_path: Path, unit: dict[str, list[str]]) -> Path:
    """A file system root laid out as the installer lays it: the unit under both its names,
    systemd's own units, and the console script at the path ExecStart names (verify checks that
    it is executable)."""
    root = tmp_path / "root"
    (root / "etc/systemd/system").mkdir(parents=True)
    for name in INSTALLED_NAMES:
        shutil.copy(UNIT_FILE, root / "etc/systemd/system" / name)
    for system_units in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")):
        if system_units.is_dir():
            shutil.copytree(system_units, root / "usr/lib/systemd/system", symlinks=True)
            break
    executable = root / exec_start(unit)[0].lstrip("/")
    executable.parent.mkdir(parents=True)
    shutil.copy(VENV_BIN / "teleinforeader", executable)
    for command in unit.get("Service.ExecReload", []):  # the shell, as the system has it
        program = root / command.split()[0].lstrip("/")
        program.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(command.split()[0], program)
    return root


def run_verify(
    systemd_analyze: str, root: Path, name: str = UNIT_FILE.name
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            systemd_analyze,
            "verify",
            f"--root={root}",
            "--man=no",
            str(root / "etc/systemd/system" / name),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("name", INSTALLED_NAMES)
def test_verify_is_clean(tmp_path, unit, system_tool, name):
    result = run_verify(system_tool("systemd-analyze"), install_root(tmp_path, unit), name)
    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == ""


def test_verify_catches_a_broken_copy(tmp_path, unit, system_tool):
    """The verify run above can fail: an unknown key and a missing executable are reported."""
    root = install_root(tmp_path, unit)
    installed = root / "etc/systemd/system" / UNIT_FILE.name
    installed.write_text(installed.read_text() + "ProtectEverything=yes\n")
    (root / exec_start(unit)[0].lstrip("/")).unlink()
    result = run_verify(system_tool("systemd-analyze"), root)
    assert "ProtectEverything" in result.stderr
    assert "is not executable" in result.stderr


def test_runs_the_installed_daemon_with_the_default_config(unit):
    command = exec_start(unit)
    assert command[0] == "/opt/teleinforeader/venv/bin/teleinforeader"
    paths = instance_paths(unit, "teleinforeader")
    assert paths["config"] == str(settings.DEFAULT_CONFIG_PATH)
    parser, _ = build_parser("run")
    arguments = parser.parse_args([word.replace("%N", "teleinforeader") for word in command[1:]])
    assert arguments.config == settings.DEFAULT_CONFIG_PATH
    assert unit["Service.ConfigurationDirectory"] == [
        Path(settings.DEFAULT_CONFIG_PATH).parent.name
    ]
    assert paths["state"] == str(settings.DEFAULT_STATE_DIRECTORY)


def test_every_template_instance_has_files_of_its_own(unit):
    """The same file installed as teleinforeader@.service: no two meters share a file."""
    names = ["teleinforeader", "teleinforeader@garage", "teleinforeader@production"]
    seen = [instance_paths(unit, name) for name in names]
    for kind in seen[0]:
        assert len({paths[kind] for paths in seen}) == len(names), kind
    assert seen[1]["config"] == "/etc/teleinforeader/teleinforeader@garage.toml"
    assert seen[1]["state"] == "/var/lib/teleinforeader@garage"


def test_notify_watchdog_and_no_restart_on_a_configuration_error(unit):
    assert unit["Service.Type"] == ["notify"]
    assert float(unit["Service.WatchdogSec"][0]) > 0
    assert unit["Service.RestartPreventExitStatus"] == ["78"]
    assert unit["Service.Restart"] == ["on-failure"]


def test_the_restart_asked_for_a_late_serial_driver_is_remembered_across_it(unit):
    """The daemon's exit 75 is restarted (on-failure), and its mark in the runtime directory
    survives that automatic restart only (teleinforeader.sources.devicepolicy)."""
    from teleinforeader.daemon import EXIT_RESTART

    assert str(EXIT_RESTART) not in unit["Service.RestartPreventExitStatus"][0].split()
    assert unit["Service.RuntimeDirectoryPreserve"] == ["restart"]


def test_reaches_the_serial_port_through_dialout_not_a_world_writable_device(unit):
    assert unit["Service.User"] == ["teleinforeader"]
    # dialout comes from the group database (test_sysusers_creates_the_user_in_dialout);
    # PrivateUsers= would map it to nobody inside the service.
    assert "Service.PrivateUsers" not in unit
    assert unit["Service.DevicePolicy"] == ["closed"]
    allowed = {entry.split()[0] for entry in unit["Service.DeviceAllow"]}
    assert allowed == SERIAL_DEVICE_GROUPS
    assert all(entry.split()[1] == "rw" for entry in unit["Service.DeviceAllow"])
    # PrivateDevices= would hide the serial port from the daemon.
    assert "Service.PrivateDevices" not in unit


def test_reaches_the_database_and_the_clients(unit):
    families = set(unit["Service.RestrictAddressFamilies"][0].split())
    assert families == {"AF_UNIX", "AF_INET", "AF_INET6"}
    assert "Service.PrivateNetwork" not in unit
    assert "Service.IPAddressDeny" not in unit


def test_sysusers_creates_the_user_in_dialout(tmp_path, system_tool):
    root = tmp_path / "root"
    (root / "etc/sysusers.d").mkdir(parents=True)
    shutil.copy(SYSUSERS_FILE, root / "etc/sysusers.d/teleinforeader.conf")
    result = subprocess.run(
        [system_tool("systemd-sysusers"), f"--root={root}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    users = {line.split(":")[0]: line.split(":") for line in (root / "etc/passwd").open()}
    assert users["teleinforeader"][5] == str(settings.DEFAULT_STATE_DIRECTORY)
    assert users["teleinforeader"][6].strip().endswith("nologin")
    groups = {line.split(":")[0]: line.strip().split(":") for line in (root / "etc/group").open()}
    assert "teleinforeader" in groups["dialout"][3].split(",")
