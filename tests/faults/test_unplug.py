"""The USB serial adapter unplugged and plugged back ten times: the daemon reads again within
its first backoff step every time, keeps every thread and leaks no descriptor."""

from __future__ import annotations

import time
from pathlib import Path

from tests.faults.fault_helpers import DaemonProcess, PluggableMeter, wait_for, write_config

CYCLES = 10
FIRST_BACKOFF = 1.0  # seconds: the serial source's first wait after losing its port
# A replug right after the loss is seen is read at the first retry; what a loaded machine may
# add to that (the retry itself, the first frame, this test noticing it).
SLACK = 2.0


def test_ten_unplugs_each_resumed_within_the_backoff_with_no_leak(tmp_path: Path) -> None:
    link = tmp_path / "usb-Prolific_TIC-if00-port0"
    meter = PluggableMeter(link)
    meter.plug()
    config = write_config(
        tmp_path / "teleinforeader.toml",
        {
            "source": {"type": "serial", "device": str(link), "mode": "historic"},
            "database": {"backend": "sqlite"},
            "server": {"enabled": False},
            "daemon": {"state_directory": str(tmp_path / "state")},
        },
    )
    resumed_after = []
    with DaemonProcess(config, print_frames=True) as daemon:
        wait_for(lambda: len(daemon.lines) >= 5, 15, "frames")
        descriptors, threads = daemon.descriptors(), daemon.threads()
        for cycle in range(1, CYCLES + 1):
            meter.unplug()
            daemon.wait_log(f"lost {link}", count=cycle)
            before = len(daemon.lines)
            meter.plug()
            replugged = time.monotonic()
            wait_for(lambda: len(daemon.lines) > before, 15, "frames after the replug")  # noqa: B023
            resumed_after.append(time.monotonic() - replugged)
            assert daemon.alive()
            assert daemon.threads() == threads
            wait_for(lambda: daemon.descriptors() == descriptors, 5, "descriptors at baseline")
        assert len(daemon.log_lines(f"{link} is back")) == CYCLES
        assert not daemon.log_lines("CRITICAL|Traceback")
        assert daemon.terminate() == 0, daemon.log[-20:]
    meter.unplug()
    print("resumed after (s):", " ".join(f"{seconds:.2f}" for seconds in resumed_after))
    assert max(resumed_after) < FIRST_BACKOFF + SLACK, resumed_after
