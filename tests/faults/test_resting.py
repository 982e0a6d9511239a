"""The daemon on a line at its real pace: with no client its reader rests, a client that comes
ends the rest and gets every frame, and every frame is stored with the time it came."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import tty
from datetime import datetime
from pathlib import Path

from teleinforeader.sources.frametimer import byte_seconds
from tests.faults.fault_helpers import DaemonProcess, LineClient, free_port, wait_for, write_config
from tests.sources.source_helpers import standard_frame

STANDARD_BYTE = byte_seconds(9600)
ARRIVAL = 16  # bytes a write


class PacedStandardMeter:
    """A standard meter on a pty, sending frame after frame at 9600 baud's pace."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._send, daemon=True)
        self._thread.start()

    def _send(self) -> None:
        due = time.monotonic()
        while not self._stop.is_set():
            frame = standard_frame(1_000_000 + self.sent)
            for start in range(0, len(frame), ARRIVAL):  # as a UART's FIFO hands them over
                arrival = frame[start : start + ARRIVAL]
                due += len(arrival) * STANDARD_BYTE
                time.sleep(max(due - time.monotonic(), 0))
                os.write(self.master, arrival)
            self.sent += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        os.close(self.master)
        os.close(self.slave)


def rests(daemon: DaemonProcess) -> int:
    """The rests of the reader, from the next summary line."""
    return daemon.wait_counters(lambda counters: True, 10, since=len(daemon.log))["rests"]


def test_a_line_read_in_rests_loses_nothing_and_a_client_ends_them(tmp_path: Path) -> None:
    meter = PacedStandardMeter()
    port = free_port()
    state = tmp_path / "state"
    config = write_config(
        tmp_path / "teleinforeader.toml",
        {
            "source": {"type": "serial", "device": meter.path, "mode": "standard"},
            "database": {"backend": "sqlite", "store_interval": 0, "flush_interval": 1.0},
            "server": {"host": "127.0.0.1", "port": port, "line_gap": 0},
            "daemon": {"state_directory": str(state), "status_interval": 0.5},
        },
    )
    try:
        with DaemonProcess(config) as daemon:
            daemon.wait_counters(lambda counters: counters.get("rests", 0) >= 3, 30)
            client = LineClient(port)
            wait_for(lambda: client.received.count(b"\n") >= 10, 15, "lines for the client")
            while_listened = rests(daemon)
            lines_before = client.received.count(b"\n")
            time.sleep(2.0)  # about 18 frames
            assert client.received.count(b"\n") >= lines_before + 10
            assert rests(daemon) == while_listened  # read as the bytes come while listened
            client.close()
            daemon.wait_counters(lambda counters: counters.get("rests", 0) > while_listened, 30)
            assert daemon.terminate() == 0, daemon.log[-20:]
            decoded = daemon.summary()["frames"]
    finally:
        meter.close()
    with sqlite3.connect(state / "teleinforeader.sqlite3") as connection:
        stored = [
            datetime.fromisoformat(row[0])
            for row in connection.execute(
                "SELECT timestamp FROM teleinfoframes_standard ORDER BY timestamp"
            )
        ]
    lines = [json.loads(line) for line in bytes(client.received).split(b"\n")[:-1]]
    assert all("frame" in line for line in lines)
    assert len(stored) == decoded  # every frame, those of the last rest too
    gaps = [(later - earlier).total_seconds() for earlier, later in zip(stored, stored[1:])]
    # Frames come every 0.14 s: each stamped when it came, not squeezed at the read's time.
    # (The first, read before the line's frame length is known, is stamped when read.)
    assert min(gaps[1:]) > 0.07, gaps
