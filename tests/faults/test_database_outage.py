"""MariaDB crashes (SIGKILL) and comes back, twice, while the daemon stores a fast replay:
every frame due ends up stored exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.fault_helpers import (
    DaemonProcess,
    base_indexes,
    mariadb_sections,
    wait_for,
    write_capture,
    write_config,
)
from tests.support.mariadb_server import MariaDBServer

pytestmark = pytest.mark.mariadb

FRAMES = 5000  # more than the test lasts: a SIGTERM ends it
SPEED = 300  # x the 1200-baud line pace: about 200 frames a second, each in its own chunks


def stored_indexes(server: MariaDBServer, database: str) -> list[int]:
    import mariadb

    connection = mariadb.connect(**server.connect_arguments(database))
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT total_base_index_in_wh FROM teleinfoframes")
        return [row[0] for row in cursor.fetchall()]
    finally:
        connection.close()


def mariadb_config(tmp_path: Path, server: MariaDBServer, database: str, capture: Path) -> Path:
    return write_config(
        tmp_path / "teleinforeader.toml",
        {
            "source": {"type": "replay", "file": str(capture), "speed": SPEED},
            **mariadb_sections(
                server,
                database,
                flush_interval=0.2,
                memory_backlog=100,  # most of an outage goes through the disk spool
            ),
            "server": {"enabled": False},
            "daemon": {"state_directory": str(tmp_path / "state"), "status_interval": 1},
        },
    )


def crash_and_recover(daemon: DaemonProcess, server: MariaDBServer, crash: int) -> None:
    """SIGKILL the server 300 frames from now, start it 200 frames later, and wait until the
    daemon reconnected (for the `crash`th time) and replayed its spool."""
    crash_at = len(daemon.lines) + 300
    wait_for(lambda: len(daemon.lines) >= crash_at, 30, f"{crash_at} frames")
    server.kill()
    # Reading goes on while the database is away; the writer notices it is gone.
    wait_for(lambda: len(daemon.lines) >= crash_at + 200, 30, "frames during the outage")
    daemon.wait_log("database (connection lost|unavailable)", count=crash)
    back = len(daemon.log)
    server.start()
    # The summary line (every second) shows the spool replayed since the restart.
    daemon.wait_counters(
        lambda c: c.get("reconnects") == crash and c.get("replayed") == c.get("spooled", 0) > 0,
        timeout=30,
        since=back,
    )


def test_mariadb_killed_and_restarted_twice_during_a_fast_replay_loses_and_duplicates_nothing(
    tmp_path: Path, mariadb_server: MariaDBServer, mariadb_database: str
) -> None:
    write_capture(tmp_path / "capture.bin", FRAMES)
    config = mariadb_config(tmp_path, mariadb_server, mariadb_database, tmp_path / "capture.bin")
    with DaemonProcess(config, print_frames=True) as daemon:
        for crash in (1, 2):
            crash_and_recover(daemon, mariadb_server, crash)
        assert daemon.alive(), "the replay ended before the end of the test"
        status = daemon.terminate()
    published = base_indexes(daemon.frames())
    assert status == 0, daemon.log[-20:]
    assert published == sorted(set(published))  # read and published once each, in order
    stored = stored_indexes(mariadb_server, mariadb_database)
    assert len(stored) == len(set(stored)), "duplicate rows"
    assert sorted(stored) == published
    counters = daemon.summary()
    assert counters["reconnects"] == 2
    assert counters["spooled"] > 0  # the outages were long enough to reach the disk spool
    assert counters["replayed"] == counters["spooled"]
    assert not (tmp_path / "state" / "mariadb-spool.jsonl").read_bytes()
