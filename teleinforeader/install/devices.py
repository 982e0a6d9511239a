"""Which serial device a new meter's configuration should name.

A USB TIC adapter is named by its stable link under /dev/serial/by-id/ (its ttyUSB number
changes with the order adapters are found in); then a USB tty with no such link; then the Pi's
GPIO UART: /dev/serial0 (the PiTInfo shield), except on a Pi 5, whose serial0 is the debug
connector and whose GPIO UART is /dev/ttyAMA0 (on a Pi 3 or 4, ttyAMA0 may be the Bluetooth
chip's: never taken there). A device another meter's configuration already names is not
offered again.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DEVICE = "/dev/serial0"  # what a PiTInfo shield is read as, once the UART is on


@dataclass(frozen=True)
class Detection:
    """The device to configure, whether it was found or is the default, and what else is there."""

    device: str
    found: bool
    others: tuple[str, ...] = ()


MODEL = Path("/proc/device-tree/model")  # "Raspberry Pi 5 Model B Rev 1.0", on a Pi


def serial_candidates(dev: Path = Path("/dev"), model: Path = MODEL) -> list[str]:
    """The serial devices present, the likeliest TIC interface first."""
    by_id = _sorted_glob(dev / "serial" / "by-id", "*")
    linked = {os.path.realpath(path) for path in by_id}
    usb = [
        path
        for pattern in ("ttyUSB*", "ttyACM*")
        for path in _sorted_glob(dev, pattern)
        if os.path.realpath(path) not in linked
    ]
    uarts = ("ttyAMA0",) if _is_pi_5(model) else ("serial0",)
    uart = [str(dev / name) for name in uarts if (dev / name).exists()]
    return by_id + usb + uart


def detect_device(used: Iterable[str], dev: Path = Path("/dev"), model: Path = MODEL) -> Detection:
    """The first candidate that no other meter uses (a device and a link to it count as one);
    /dev/serial0 when there is none."""
    taken = {os.path.realpath(device) for device in used if device.startswith("/")}
    candidates = serial_candidates(dev, model)
    free = [path for path in candidates if os.path.realpath(path) not in taken]
    if not free:
        return Detection(DEFAULT_DEVICE, found=False)
    return Detection(free[0], found=True, others=tuple(free[1:]))


def _is_pi_5(model: Path) -> bool:
    try:
        return model.read_bytes().startswith(b"Raspberry Pi 5")
    except OSError:
        return False


def _sorted_glob(directory: Path, pattern: str) -> list[str]:
    try:
        return sorted(str(path) for path in directory.glob(pattern))
    except OSError:
        return []
