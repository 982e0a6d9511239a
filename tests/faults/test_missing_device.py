"""The serial device missing when the daemon starts (the adapter unplugged, /dev/serial0 not there
yet at boot, a wrong path): the daemon is healthy while it waits, so it tells systemd READY=1 at
once (a unit start does not wait 90 s for the device, nor does multi-user.target at boot), says in
STATUS= what it waits for, and reads as soon as the device appears."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.daemon.daemon_helpers import NotifySocket
from tests.faults.fault_helpers import (
    DaemonProcess,
    PluggableMeter,
    daemon_environment,
    wait_for,
    write_config,
)


def test_ready_at_once_without_the_device_then_reading_when_it_appears(tmp_path: Path) -> None:
    link = tmp_path / "serial0"
    config = write_config(
        tmp_path / "teleinforeader.toml",
        {
            "source": {"type": "serial", "device": str(link), "mode": "historic"},
            "database": {"backend": "sqlite", "store_interval": 0, "flush_interval": 0.2},
            "server": {"enabled": False},
            "daemon": {"state_directory": str(tmp_path / "state")},
        },
    )
    manager = NotifySocket(tmp_path / "notify")
    environ = daemon_environment(**manager.environ(watchdog_usec=400_000))
    meter = PluggableMeter(link)
    try:
        with DaemonProcess(config, environ=environ, print_frames=True) as daemon:
            ready = manager.receive_until("READY")
            assert ready["STATUS"].startswith(f"waiting for {link}")
            status = manager.receive_until("WATCHDOG")  # alive, and pinging, while it waits
            while "(No such file or directory)" not in status["STATUS"]:
                status = manager.receive_until("WATCHDOG")
            assert status["STATUS"].startswith(f"waiting for {link} (No such file or directory); ")
            # The status is set before the log line goes out: wait for the line.
            daemon.wait_log(f"cannot open {link}: .*; retrying")

            meter.plug()
            while status["STATUS"].startswith(("waiting for", "0 frames")):
                status = manager.receive_until("STATUS", timeout=15)
            wait_for(lambda: len(daemon.frames()) >= 3, 15, "frames from the plugged device")
            assert daemon.terminate() == 0, daemon.log[-20:]
        assert not daemon.log_lines("CRITICAL|Traceback")
        assert daemon.log_lines(f"{link} is back after")
    finally:
        meter.unplug()
        manager.close()
    database = sqlite3.connect(tmp_path / "state" / "teleinforeader.sqlite3")
    try:
        [(rows,)] = database.execute("SELECT COUNT(*) FROM teleinfoframes").fetchall()
    finally:
        database.close()
    assert rows == len(daemon.frames())
