"""Socket clients as a LAN throws them at the daemon: many readers with a few stuck ones, and a
storm of connections. Readers get every frame, stuck clients cost a bounded buffer and are
dropped, and reading and storing never stop."""

from __future__ import annotations

import socket
import sqlite3
import struct
from pathlib import Path

from tests.faults.fault_helpers import (
    DaemonProcess,
    LineClient,
    base_indexes,
    free_port,
    wait_for,
    write_capture,
    write_config,
)

CLIENT_BUFFER = 32 * 1024  # bytes queued for one client before it is dropped


def load_config(tmp_path: Path, port: int, speed: float) -> Path:
    capture = tmp_path / "capture.bin"
    write_capture(capture, 20_000)  # more than a test plays: SIGTERM ends it
    return write_config(
        tmp_path / "teleinforeader.toml",
        {
            "source": {"type": "replay", "file": str(capture), "speed": speed},
            "database": {"backend": "sqlite", "store_interval": 0, "flush_interval": 0.5},
            "server": {
                "host": "127.0.0.1",
                "port": port,
                "max_clients": 250,
                "client_buffer": CLIENT_BUFFER,
                "line_gap": 0.25 / speed,  # the default pace, as fast as the replay
            },
            "daemon": {"state_directory": str(tmp_path / "state"), "status_interval": 0.5},
        },
    )


def stalled_client(port: int) -> socket.socket:
    """A client that never reads, with a small receive buffer so that it fills soon."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    return sock


def test_200_clients_20_stalled_readers_get_every_frame_stalled_ones_dropped(
    tmp_path: Path,
) -> None:
    port = free_port()
    with DaemonProcess(load_config(tmp_path, port, speed=50), print_frames=True) as daemon:
        daemon.wait_log("serving JSON lines")
        wait_for(lambda: len(daemon.lines) >= 10, 15, "frames")
        rss_before = daemon.rss_kib()
        readers = [LineClient(port) for _ in range(180)]
        stalled = [stalled_client(port) for _ in range(20)]
        daemon.wait_counters(lambda c: c.get("clients") == 200, timeout=30)
        counters = daemon.wait_counters(lambda c: c.get("dropped_slow") == 20, timeout=60)
        assert counters["clients"] == 180
        rss_peak = daemon.rss_kib()
        until = len(daemon.lines) + 50  # frames after the drops reach the readers too
        wait_for(lambda: len(daemon.lines) >= until, 30, "frames after the drops")
        rss_after = daemon.rss_kib()
        assert daemon.terminate() == 0, daemon.log[-20:]
    published = base_indexes(daemon.frames())
    for reader in readers:
        assert reader.closed.wait(10), "the daemon did not hang up at exit"
        received = reader.indexes()
        assert received, "a reader got nothing"
        assert received == published[published.index(received[0]) :]
        reader.close()
    for sock in stalled:
        sock.close()
    summary = daemon.summary()
    assert summary["dropped_slow"] == 20
    print(f"daemon RSS (KiB): {rss_before} before the clients, {rss_peak} with 200, {rss_after}")
    # Each client costs at most its buffer: what the stalled ones held is bounded, and freed.
    assert rss_peak - rss_before <= (200 * CLIENT_BUFFER) // 1024 + 16 * 1024


def test_5000_rapid_connections_reading_and_storing_go_on_descriptors_come_back(
    tmp_path: Path,
) -> None:
    port = free_port()
    linger_reset = struct.pack("ii", 1, 0)  # close with RST: no TIME_WAIT left behind here
    with DaemonProcess(load_config(tmp_path, port, speed=20), print_frames=True) as daemon:
        daemon.wait_log("serving JSON lines")
        wait_for(lambda: len(daemon.lines) >= 10, 15, "frames")
        descriptors = daemon.descriptors()
        storm_started = len(daemon.lines)
        for attempt in range(5000):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                if attempt % 2:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger_reset)
        during_storm = len(daemon.lines) - storm_started
        wait_for(lambda: daemon.descriptors() == descriptors, 10, "descriptors at baseline")
        counters = daemon.wait_counters(lambda c: c.get("connects", 0) >= 5000, timeout=10)
        assert daemon.alive()
        after = len(daemon.lines)
        wait_for(lambda: len(daemon.lines) > after + 10, 10, "frames after the storm")
        assert daemon.terminate() == 0, daemon.log[-20:]
    assert during_storm > 0, "reading stopped during the storm"
    published = base_indexes(daemon.frames())
    assert published == list(range(published[0], published[0] + len(published)))
    database = sqlite3.connect(tmp_path / "state" / "teleinforeader.sqlite3")
    try:
        rows = database.execute("SELECT total_base_index_in_wh FROM teleinfoframes").fetchall()
    finally:
        database.close()
    assert sorted(row[0] for row in rows) == published
    print(f"{counters['connects']} connections; {during_storm} frames read during the storm")
