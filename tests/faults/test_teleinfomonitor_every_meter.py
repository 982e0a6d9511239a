"""The real daemon on each simulated meter, with README's TeleInfoMonitor settings
(`[server] teleinfomonitor` and `[database] teleinfomonitor` on, MariaDB database
`teleinfodb`): TeleInfoMonitor's reading code shows every frame of its connection, and its own
daily query returns today's rows, both with the mapping table's values for the frames sent."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import mariadb
import pytest

from teleinforeader.sources.simulator import PROFILES
from teleinforeader.tic import Frame
from teleinforeader.tic.teleinfomonitor import SEED_LABELS, seed_values
from tests.faults.fault_helpers import (
    DaemonProcess,
    free_port,
    mariadb_sections,
    wait_for,
    write_config,
)
from tests.support.mariadb_server import MariaDBServer
from tests.support.teleinfomonitor import (
    FIELDS,
    TeleInfoMonitorClient,
    daily_query,
    frame_from_row,
)

SPEED = 10.0  # ten times the line: a frame every 0.1 to 0.2 s
FRAMES = 8


def printed_frame(message: dict[str, Any]) -> Frame:
    """A frame the daemon printed (--print), back as a Frame: its groups, mode and time."""
    horodates = {label: h["raw"] for label, h in message.get("horodates", {}).items()}
    received = datetime.strptime(message["timestamp"], "%Y-%m-%d %H:%M:%S.%f")
    return Frame(message["frame"], message["mode"], received, horodates)


def seed_row(frame: Frame) -> dict[str, Any]:
    """What TeleInfoFrame.from_raw_data gets for the frame, by the mapping table."""
    values = seed_values(frame)[1]
    meter = values.get("ADCO", "")
    row = (frame.received_at, meter, *(values.get(label) for label in SEED_LABELS[1:]))
    return frame_from_row(row)


@pytest.mark.mariadb
@pytest.mark.parametrize("profile", PROFILES)
def test_teleinfomonitor_shows_each_simulated_meter_live_and_by_day(
    profile: str, tmp_path: Path, mariadb_server: MariaDBServer, teleinfodb: str
) -> None:
    port = free_port()
    config = write_config(
        tmp_path / "teleinforeader.toml",
        {
            "source": {"type": "simulator", "profile": profile, "speed": SPEED},
            **mariadb_sections(mariadb_server, teleinfodb, teleinfomonitor=True),
            # line_gap: the default pace, as fast as the simulated line
            "server": {"host": "127.0.0.1", "port": port, "teleinfomonitor": True,
                       "line_gap": 0.25 / SPEED},
            "daemon": {"state_directory": str(tmp_path / "state")},
        },
    )  # fmt: skip
    with DaemonProcess(config, print_frames=True) as daemon:
        daemon.wait_log("serving JSON lines")
        monitor = TeleInfoMonitorClient(("127.0.0.1", port))
        wait_for(lambda: len(monitor.frames) >= FRAMES or monitor.ended.is_set(), 30, "frames")
        assert daemon.terminate() == 0, daemon.log[-20:]
    assert monitor.ended.wait(10)
    assert monitor.failure is None and monitor.invalid == []
    assert len(monitor.reads) == len(monitor.frames)
    printed = [printed_frame(message) for message in daemon.frames()]
    live = [dict(frame) for frame in monitor.frames]
    first = [f"{f.received_at:%Y-%m-%d %H:%M:%S.%f}" for f in printed].index(live[0]["timestamp"])
    expected_live = [
        {"timestamp": f"{f.received_at:%Y-%m-%d %H:%M:%S.%f}", **seed_live(f)}
        for f in printed[first:]
    ]
    assert live == expected_live

    connection = mariadb.connect(**mariadb_server.connect_arguments(teleinfodb))
    try:
        rows = []
        for day in sorted({f.received_at.date() for f in printed}):  # today (and tomorrow at 0:00)
            cursor = connection.cursor()
            cursor.execute(daily_query(day))
            rows += [frame_from_row(row) for row in cursor.fetchall()]
    finally:
        connection.close()
    rows.sort(key=lambda row: row["timestamp"])
    assert rows == [seed_row(frame) for frame in printed]


def seed_live(frame: Frame) -> dict[str, Any]:
    values = seed_values(frame)[1]
    return {field: values[label] for field, label in zip(FIELDS[1:], SEED_LABELS)}
