"""The USB serial adapter unplugged and plugged back ten times: the daemon reads again within
its first backoff step every time, keeps every thread and leaks no descriptor."""

from __future__ import annotations

import contextlib
import os
import threading
import time
import tty
from pathlib import Path

from tests.faults.fault_helpers import DaemonProcess, historic_frame, wait_for, write_config

CYCLES = 10
FIRST_BACKOFF = 1.0  # seconds: the serial source's first wait after losing its port
# A replug right after the loss is seen is read at the first retry; what a loaded machine may
# add to that (the retry itself, the first frame, this test noticing it).
SLACK = 2.0


class PluggableMeter:
    """A meter behind a USB adapter: a pty (the adapter's tty) named by a stable symlink, like
    /dev/serial/by-id/...; unplugging closes both ends, the name then points nowhere."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.index = 1_000_000
        self._master = self._slave = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def plug(self) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        if self.link.is_symlink():
            self.link.unlink()
        self.link.symlink_to(os.ttyname(self._slave))
        self._stop.clear()
        self._thread = threading.Thread(target=self._send, args=(self._master,), daemon=True)
        self._thread.start()

    def _send(self, master: int) -> None:
        while not self._stop.wait(0.02):
            # Nobody reads between two opens and the buffer fills: the line goes on anyway.
            with contextlib.suppress(BlockingIOError):
                os.write(master, historic_frame(self.index))
            self.index += 1

    def unplug(self) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(5)
        os.close(self._master)
        os.close(self._slave)


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
