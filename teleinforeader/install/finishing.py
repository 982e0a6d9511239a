"""After the start: is it running, has a frame come, and how to check it; probe when not.

The daemon says READY at once (its device there or not), so `systemctl start` proves the
service runs; the first frame, read from its STATUS= line, proves the line works. Auto mode
tries each speed for 3 s and a frame comes every 1 to 2 s: FIRST_FRAME_WAIT covers both speeds,
twice. A device that cannot be opened at all is said at once.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time

from teleinforeader.install.layout import SERIAL_GROUP, SERVICE_USER, VENV_LINK, Instance
from teleinforeader.install.meterconfig import MeterConfig
from teleinforeader.install.system import Host, InstallError

FIRST_FRAME_WAIT = 20.0  # seconds
STATUS_FRAMES = re.compile(r"(?:^|; )(\d+) frames\b")  # the daemon's STATUS= (daemon.status_line)


def frames_in_status(status: str) -> int | None:
    """The frame count the daemon's STATUS= gives, None before it said any."""
    found = STATUS_FRAMES.search(status)
    return int(found[1]) if found else None


def wait_and_tell(host: Host, instance: Instance, config: MeterConfig, interactive: bool) -> None:
    report = host.report
    state = host.unit_state(instance.unit)
    if state != "active":
        lines = host.journal_tail(instance.unit)
        raise InstallError(
            f"{instance.unit} is {state}, not running; its last lines:"
            + "".join(f"\n    {line}" for line in lines)
        )
    deadline = time.monotonic() + FIRST_FRAME_WAIT
    status = host.unit_property(instance.unit, "StatusText")
    while (frames_in_status(status) or 0) == 0 and time.monotonic() < deadline:
        if status.startswith("waiting for") and "(" in status:
            break  # the device cannot be opened: waiting longer shows nothing more
        time.sleep(1)
        status = host.unit_property(instance.unit, "StatusText")
    report.did(f"{instance.unit} is active (running): {status}")
    device = config.lines.get("source", "device") or "the device"
    port = config.lines.get("server", "port")
    tool = f"{VENV_LINK}/bin/teleinforeader"
    checks = [
        (f"systemctl status {instance.unit_stem}", "its state and latest figures"),
        (f"journalctl -u {instance.unit_stem} -f", "what it does, as it does it"),
    ]
    if port is not None:
        checks.append((f"{tool} tail localhost:{port}", "the frames, live"))
    checks.append(
        (f"sudo -u {SERVICE_USER} {tool} db stats --config {instance.config}", "what is stored")
    )
    lines = [line for command, meaning in checks for line in (f"{command}", f"    {meaning}")]
    remove = "sudo python3 -m teleinforeader.install uninstall" + (
        "" if instance.name is None else f" --instance {instance.name}"
    )
    lines += [
        "",
        f"Edit {instance.config}, then: sudo systemctl restart {instance.unit_stem}",
        "Upgrade: run the installer again from a newer checkout or sdist.",
        f"Remove: {remove} (add --purge to remove the data and the configuration too).",
    ]
    report.block("Check it:", lines)
    if (frames_in_status(status) or 0) == 0:
        _offer_probe(host, instance, str(device), interactive)


def _offer_probe(host: Host, instance: Instance, device: str, interactive: bool) -> None:
    report = host.report
    probe = [
        str(VENV_LINK / "bin" / "teleinforeader"),
        "probe",
        "--config",
        str(instance.config),
    ]
    report.warn(f"no frame from {device} yet")
    command = (
        f"sudo systemctl stop {instance.unit_stem}; sudo -u {SERVICE_USER} {' '.join(probe)}; "
        f"sudo systemctl start {instance.unit_stem}"
    )
    if not interactive:
        report.block("See what the line gives (probe needs the port to itself):", [command])
        return
    answer = input(f"Stop {instance.unit} and run `teleinforeader probe` on {device} now? [Y/n] ")
    if answer.strip().lower() not in {"", "y", "yes", "o", "oui"}:
        report.block("Later:", [command])
        return
    host.systemctl("stop", instance.unit)
    try:
        subprocess.run(
            probe, user=SERVICE_USER, group=SERVICE_USER, extra_groups=[SERIAL_GROUP], check=False
        )
    finally:
        host.systemctl("start", instance.unit)
    sys.stdout.flush()
