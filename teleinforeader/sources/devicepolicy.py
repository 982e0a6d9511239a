"""A serial device refused with EPERM: a device policy, not file permissions, and the way out.

A missing group gives EACCES. EPERM comes from a device policy: a systemd unit's
`DevicePolicy=closed` with `DeviceAllow=char-ttyUSB rw` and the like, or a container's device
list. systemd turns `char-ttyUSB` into the device majors listed in /proc/devices when the unit
starts, so an adapter whose driver loads later (plugged in after the start, or enumerated late
at boot) is refused until the service starts again, which resolves the majors anew.

So, under systemd, the first refusal of a device asks for a restart (`RestartRequiredError`: the
daemon stops cleanly, exits 75, and `Restart=on-failure` starts it again). A mark in the runtime
directory remembers that it asked for that device: systemd keeps the directory across automatic
restarts (`RuntimeDirectoryPreserve=restart`) and removes it at a stop, so a manual restart starts
afresh. Refused again after the restart, the device's driver is not in the unit's list at all,
which only the administrator can change: the line logged says how. Outside systemd (no
$RUNTIME_DIRECTORY) nothing is restarted; the line says what refuses the device.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
from collections.abc import Mapping

from teleinforeader.sources.base import RestartRequiredError

MARK = "device-policy-restart"  # in $RUNTIME_DIRECTORY: the device number a restart was asked for


def is_policy_refusal(error: BaseException) -> bool:
    """True for EPERM, which pyserial passes on as the errno of its SerialException."""
    return getattr(error, "errno", None) == errno.EPERM


class DevicePolicy:
    """Decides what a refused device means, and asks for at most one restart per device."""

    def __init__(self, runtime_directory: str | None) -> None:
        self._directory = runtime_directory or None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> DevicePolicy:
        environ = os.environ if environ is None else environ
        return cls(environ.get("RUNTIME_DIRECTORY", "").split(":")[0] or None)

    def refused(self, device: str) -> str:
        """The log line for `device` refused with EPERM; raises RestartRequiredError instead when a
        restart of the service may let it through (the first refusal of that device)."""
        number = _device_number(device)
        described = f"{device} (char {number})" if number else device
        if self._directory is None or number is None:
            return (
                f"opening {described} is not permitted: a device policy refuses it (a systemd "
                "unit's DeviceAllow=, a container's device list), not its file permissions"
            )
        mark = os.path.join(self._directory, MARK)
        if _read(mark) != number:
            with open(mark, "w", encoding="ascii") as file:
                file.write(number + "\n")
            raise RestartRequiredError(
                f"opening {described} is not permitted by the service's device policy: its "
                "driver was probably loaded after the service started, and systemd allows only "
                "the drivers it knew then: restarting the service so that it allows it"
            )
        unit = _unit_name() or "teleinforeader"
        return (
            f"opening {described} is still not permitted after a restart: the unit's "
            f"DeviceAllow= does not name its driver; add DeviceAllow=char-{_driver(device)} rw "
            f"with `sudo systemctl edit {unit}`, then `sudo systemctl restart {unit}`"
        )

    def opened(self) -> None:
        """The device opened: a later refusal may be a late driver again."""
        if self._directory is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self._directory, MARK))


def _device_number(device: str) -> str | None:
    """ "188:0" for a character device node (through symlinks such as /dev/serial0)."""
    try:
        status = os.stat(device)
    except OSError:
        return None
    if not stat.S_ISCHR(status.st_mode):
        return None
    return f"{os.major(status.st_rdev)}:{os.minor(status.st_rdev)}"


def _driver(device: str) -> str:
    """The name DeviceAllow=char-NAME matches for `device`: its node's name under /dev without
    the number (ttyUSB0 -> ttyUSB, pts/3 -> pts), which is how drivers name their nodes; "NAME"
    when it is not under /dev. (/proc/devices, which says it for sure, is hidden from the
    service by ProcSubset=pid.)"""
    node = os.path.realpath(device)
    if not node.startswith("/dev/"):
        return "NAME"
    return re.sub(r"/?\d+$", "", node[len("/dev/") :]) or "NAME"


def _unit_name() -> str | None:
    """The service this process runs in, from its cgroup (/proc/self stays visible with
    ProcSubset=pid), for the command to give."""
    cgroups = _read("/proc/self/cgroup")
    if cgroups is None:
        return None
    found = re.search(r"/([^/\n]+)\.service$", cgroups, re.MULTILINE)
    return found[1] if found else None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as file:
            return file.read().strip()
    except OSError:
        return None
