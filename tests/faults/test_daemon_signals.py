"""The daemon itself stopped under load: SIGTERM loses nothing; SIGKILL loses only the frames
of the last flush interval (the bound measured here), and what it had spooled is stored after
the restart."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.faults.fault_helpers import (
    DaemonProcess,
    LineClient,
    SocketMeter,
    base_indexes,
    free_port,
    mariadb_sections,
    wait_for,
    write_capture,
    write_config,
)
from tests.support.mariadb_server import MariaDBServer

FLUSH_INTERVAL = 1.0  # seconds between commits: what a SIGKILL may cost
RATE = 50.0  # frames a second from the socket meter: 50 times a real line
# What a loaded CI machine may add to the flush interval: the writer wakes late, the frames sit
# in the kernel and the reader's queue before they are submitted.
SCHEDULING_SLACK = 2.0


def stored_sqlite(state: Path) -> list[int]:
    database = sqlite3.connect(state / "teleinforeader.sqlite3")
    try:
        rows = database.execute("SELECT total_base_index_in_wh FROM teleinfoframes").fetchall()
    finally:
        database.close()
    return [row[0] for row in rows]


def test_sigterm_under_load_loses_nothing(tmp_path: Path) -> None:
    capture = tmp_path / "capture.bin"
    write_capture(capture, 20_000)  # more than the test plays: the signal ends it
    port = free_port()
    config = write_config(
        tmp_path / "teleinforeader.toml",
        {
            "source": {"type": "replay", "file": str(capture), "speed": 300},
            "database": {"backend": "sqlite", "store_interval": 0, "flush_interval": 2.0},
            # the default pace, as fast as the replay: the clients keep up with every frame
            "server": {"host": "127.0.0.1", "port": port, "line_gap": 0.25 / 300},
            "daemon": {"state_directory": str(tmp_path / "state")},
        },
    )
    with DaemonProcess(config, print_frames=True) as daemon:
        daemon.wait_log("serving JSON lines")
        clients = [LineClient(port) for _ in range(3)]
        wait_for(lambda: len(daemon.lines) >= 400, 30, "400 frames")
        status = daemon.terminate()
    assert status == 0, daemon.log[-20:]
    published = base_indexes(daemon.frames())
    assert published == list(range(published[0], published[0] + len(published)))
    assert daemon.summary()["published"] == len(published)
    assert sorted(stored_sqlite(tmp_path / "state")) == published  # the last 2 s flushed too
    for client in clients:
        client.closed.wait(10)
        received = client.indexes()
        assert received == published[published.index(received[0]) :]
        client.close()


def sqlite_config(tmp_path: Path, meter: SocketMeter) -> Path:
    return write_config(
        tmp_path / "teleinforeader.toml",
        {
            "source": {"type": "serial", "device": meter.url},
            "database": {
                "backend": "sqlite",
                "store_interval": 0,
                "flush_interval": FLUSH_INTERVAL,
            },
            "server": {"enabled": False},
            "daemon": {"state_directory": str(tmp_path / "state")},
        },
    )


def start_meter(daemon: DaemonProcess, meter: SocketMeter, rate: float) -> None:
    """Frames from when the daemon reads: bytes that arrive while the port opens are flushed,
    as on a real line."""
    daemon.wait_log(f"reading {meter.url}")
    meter.send(rate)


def assert_only_the_newest_were_lost(meter: SocketMeter, stored: list[int], killed: float) -> int:
    """Stored rows are the oldest frames, exactly once; what is missing was sent within the
    flush interval (plus slack) before the kill. Returns how many frames were lost."""
    sent = meter.indexes(until=killed)
    assert len(stored) == len(set(stored)), "duplicate rows"
    assert sorted(stored) == sent[: len(stored)], "a gap: an older frame was lost"
    lost = meter.sent[len(stored) : len(sent)]
    oldest_allowed = killed - FLUSH_INTERVAL - SCHEDULING_SLACK
    assert all(at >= oldest_allowed for _, at in lost), (
        f"{len(lost)} frames lost, the oldest sent {killed - lost[0][1]:.2f} s before the kill"
    )
    oldest = f", the oldest sent {killed - lost[0][1]:.2f} s before the kill" if lost else ""
    print(
        f"SIGKILL at {RATE:g} frames/s, flush every {FLUSH_INTERVAL:g} s: lost {len(lost)}{oldest}"
    )
    return len(lost)


def test_sigkill_loses_at_most_the_last_flush_interval_and_a_restart_goes_on(
    tmp_path: Path,
) -> None:
    meter = SocketMeter()
    with DaemonProcess(sqlite_config(tmp_path, meter)) as daemon:
        start_meter(daemon, meter, RATE)
        wait_for(lambda: len(meter.sent) >= RATE * 4, 30, "4 s of frames")
        daemon.process.kill()
        killed = time.monotonic()
        daemon.wait()
    meter.stop()
    stored = stored_sqlite(tmp_path / "state")
    assert stored, "nothing committed in 4 s"
    lost = assert_only_the_newest_were_lost(meter, stored, killed)
    assert lost <= RATE * (FLUSH_INTERVAL + SCHEDULING_SLACK)

    # The database survived the kill: a new daemon opens it and stores the next frames.
    meter = SocketMeter(first_index=2_000_000)
    with DaemonProcess(sqlite_config(tmp_path, meter)) as daemon:
        start_meter(daemon, meter, RATE)
        wait_for(lambda: len(meter.sent) >= 20, 30, "frames after the restart")
        wait_for(lambda: len(stored_sqlite(tmp_path / "state")) > len(stored), 30, "new rows")
        assert daemon.terminate() == 0, daemon.log[-20:]
    meter.stop()
    assert not daemon.log_lines("ERROR|CRITICAL")


@pytest.mark.mariadb
def test_sigkill_while_mariadb_is_away_keeps_the_spool_for_the_next_start(
    tmp_path: Path, mariadb_server: MariaDBServer, mariadb_database: str
) -> None:
    def config(meter: SocketMeter) -> Path:
        return write_config(
            tmp_path / "teleinforeader.toml",
            {
                "source": {"type": "serial", "device": meter.url},
                **mariadb_sections(
                    mariadb_server, mariadb_database, flush_interval=0.2, memory_backlog=20
                ),
                "server": {"enabled": False},
                "daemon": {"state_directory": str(tmp_path / "state"), "status_interval": 0.5},
            },
        )

    spool = tmp_path / "state" / "mariadb-spool.jsonl"
    mariadb_server.stop()
    meter = SocketMeter()
    with DaemonProcess(config(meter)) as daemon:
        start_meter(daemon, meter, RATE)
        daemon.wait_counters(lambda c: c.get("spooled", 0) >= 100, timeout=30)
        daemon.process.kill()
        killed = time.monotonic()
        daemon.wait()
    meter.stop()
    spooled = [json.loads(line) for line in spool.read_bytes().splitlines()]
    sent = meter.indexes(until=killed)
    lost = len(sent) - len(spooled)
    # What was only in memory: the bound of 20 frames plus what arrived since the last flush.
    assert 0 < lost <= 20 + RATE * (0.2 + SCHEDULING_SLACK)
    print(f"SIGKILL with MariaDB away: {len(spooled)} frames spooled, {lost} only in memory lost")

    mariadb_server.start()
    meter = SocketMeter(first_index=2_000_000)
    with DaemonProcess(config(meter)) as daemon:
        start_meter(daemon, meter, 5)
        daemon.wait_log(f"{len(spooled)} rows wait in the spool")
        daemon.wait_counters(lambda c: c.get("replayed") == len(spooled), timeout=30)
        assert daemon.terminate() == 0, daemon.log[-20:]
    meter.stop()
    import mariadb

    connection = mariadb.connect(**mariadb_server.connect_arguments(mariadb_database))
    try:
        cursor = connection.cursor()
        cursor.execute(
            "SELECT total_base_index_in_wh FROM teleinfoframes "
            "WHERE total_base_index_in_wh < 2000000"
        )
        replayed = [row[0] for row in cursor.fetchall()]
    finally:
        connection.close()
    assert sorted(replayed) == sent[: len(spooled)]  # the oldest frames, each once
    assert spool.read_bytes() == b""


def blocked_signals(status: str) -> set[int]:
    """The signal numbers a /proc/.../status says the thread blocks (its SigBlk mask)."""
    (mask,) = [line.split()[1] for line in status.splitlines() if line.startswith("SigBlk:")]
    bits = int(mask, 16)
    return {number for number in range(1, 65) if bits >> (number - 1) & 1}


def test_only_the_main_thread_takes_the_stop_and_reload_signals(tmp_path: Path) -> None:
    """The kernel gives a signal sent to the process to any thread that does not block it, and
    Python handles it in the main thread only once that thread next runs: were a sink's thread
    to take SIGTERM, the stop would wait for the supervisor's next wake-up, 30 s away."""
    capture = tmp_path / "capture.bin"
    write_capture(capture, 100)
    config = write_config(
        tmp_path / "teleinforeader.toml",
        {
            "source": {"type": "replay", "file": str(capture), "speed": 1, "loop": True},
            "database": {"backend": "sqlite"},
            "server": {"host": "127.0.0.1", "port": free_port()},
            "http": {"host": "127.0.0.1", "port": free_port()},
            "daemon": {"state_directory": str(tmp_path / "state")},
        },
    )
    handled = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
    with DaemonProcess(config) as daemon:
        daemon.wait_log("ready: the sinks run")
        tasks = Path(f"/proc/{daemon.pid}/task")
        masks = {
            int(task.name): blocked_signals((task / "status").read_text())
            for task in tasks.iterdir()
        }
        assert len(masks) >= 5  # main, reader, database writer and spiller, server, http...
        assert not masks.pop(daemon.pid) & handled
        assert all(handled <= mask for mask in masks.values()), masks
        assert daemon.terminate() == 0, daemon.log[-20:]
