"""The whole daemon at full speed: frames/s and CPU per frame from the replay to the database
and ten clients, and resident memory after a million frames against after ten thousand.

The daemon runs as a real process, as systemd runs it ($NOTIFY_SOCKET, whose STATUS= lines
give the live frame count): a capture replayed as fast as possible (speed 0) through the
decoder, the plausibility guard, the database writer (every frame stored: store_interval 0)
and the socket server with ten reading clients. Throughput is measured from READY=1 to the exit
at the end of the capture, which includes the last commit; CPU is the child's user + system
time. SQLite and MariaDB (the throwaway test server; skipped with the reason when it cannot run)
are measured one after the other, the daemon having one database at a time. "rows stored" and
"lines/client" are printed as measured: at full speed the frames of one 4 KiB read share their
receive time (the rows' key with the meter), and the server hands a lagging broadcast only the
newest frames; on a real line, a frame a second, neither happens.

Memory: the capture loops at full speed (SQLite, no client) and VmRSS is read when the daemon
reports 10,000 and then 1,000,000 frames; a leak of even 100 bytes a frame would show as 100 MB.
Twice: one row every 5 s, as installed (the writer keeps up, so growth would be a leak), and
every frame (store_interval 0: the writer cannot keep up with a full-speed replay, and what
exceeds `memory_backlog` must wait in the spool on disk, not in memory).
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.common import machine, print_table
from benchmarks.process import Daemon, children_cpu, free_port, write_config
from tests.support.captures import write_capture

FRAMES = 50_000
CLIENTS = 10
RSS_POINTS = (10_000, 1_000_000)
TIMEOUT = 600.0
EVERY_FRAME = "store_interval = 0\nflush_interval = 0.5"


def endtoend_config(directory: Path, source: str, database: str, port: int) -> Path:
    return write_config(
        directory,
        f"[source]\n{source}\n[database]\n{database}\n"
        # line_gap 0: at full speed the pace would hand each client four lines a second; the
        # figure measured is how many the server can broadcast.
        f'[server]\nhost = "127.0.0.1"\nport = {port}\nline_gap = 0\n'
        "[http]\nenabled = false\n",
        daemon='log_level = "warning"\n',
    )


class CountingClient:
    """A socket client that reads everything and counts the lines."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.lines = 0
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with self.sock:
            while True:
                try:
                    data = self.sock.recv(1 << 20)
                except OSError:
                    return
                if not data:
                    return
                self.lines += data.count(b"\n")

    def join(self) -> int:
        self._thread.join(TIMEOUT)
        return self.lines


def connect_clients(port: int, count: int) -> list[CountingClient]:
    deadline = time.monotonic() + 30
    while True:
        try:
            return [CountingClient(port) for _ in range(count)]
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def sqlite_rows(state: Path) -> int:
    import sqlite3

    database = sqlite3.connect(state / "teleinforeader.sqlite3")
    try:
        return int(database.execute("SELECT COUNT(*) FROM teleinfoframes").fetchone()[0])
    finally:
        database.close()


def throughput(directory: Path, capture: Path, database: str) -> tuple[float, float, int, int]:
    """(frames/s, CPU µs a frame, exit status, lines the clients got)."""
    port = free_port()
    source = f'type = "replay"\nfile = "{capture}"\nspeed = 0'
    cpu_before = children_cpu()
    daemon = Daemon(directory, endtoend_config(directory, source, database, port))
    clients = connect_clients(port, CLIENTS)  # before READY: the replay starts at once
    daemon.seconds_to_ready()
    status = daemon.process.wait(TIMEOUT)  # the end of the capture: last commit, then exit
    seconds = time.perf_counter() - daemon.ready_at
    cpu = children_cpu() - cpu_before
    daemon.notify.close()
    lines = sum(client.join() for client in clients)
    return FRAMES / seconds, cpu / FRAMES * 1e6, status, lines


def mariadb_rows(server, database: str) -> int:  # type: ignore[no-untyped-def]
    import mariadb

    connection = mariadb.connect(**server.connect_arguments(database))
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT COUNT(*) FROM teleinfoframes")
        return int(cursor.fetchone()[0])
    finally:
        connection.close()


def end_to_end(directory: Path) -> list[tuple[object, ...]]:
    capture = directory / "capture.bin"
    write_capture(capture, FRAMES)
    rows: list[tuple[object, ...]] = []
    state = directory / "sqlite"
    state.mkdir()
    rate, cpu, status, lines = throughput(state, capture, f'backend = "sqlite"\n{EVERY_FRAME}')
    rows.append(("SQLite", rate, cpu, sqlite_rows(state / "state"), lines // CLIENTS, status))
    try:
        from tests.support.mariadb_server import MariaDBServer

        server = MariaDBServer(directory / "mariadb")
        server.start()
    except Exception as exc:  # no server binaries here: say so in the table
        rows.append(("MariaDB", f"skipped: {exc}"[:60], "", "", "", ""))
        return rows
    try:
        state = directory / "maria"
        state.mkdir()
        settings = (
            f'backend = "mariadb"\n{EVERY_FRAME}\n[database.mariadb]\n'
            f'host = "{server.host}"\nport = {server.port}\nuser = "{server.user}"\n'
            f'password = "{server.password}"\ndatabase = "teleinfo_bench"'
        )
        rate, cpu, status, lines = throughput(state, capture, settings)
        stored = mariadb_rows(server, "teleinfo_bench")
        rows.append(("MariaDB", rate, cpu, stored, lines // CLIENTS, status))
    finally:
        server.stop()
    return rows


def memory(directory: Path, store_interval: int) -> list[tuple[object, ...]]:
    capture = directory / "loop.bin"
    if not capture.exists():
        write_capture(capture, 10_000)
    source = f'type = "replay"\nfile = "{capture}"\nspeed = 0\nloop = true'
    state = directory / f"memory-{store_interval}"
    state.mkdir()
    database = f'backend = "sqlite"\nstore_interval = {store_interval}'
    config = endtoend_config(state, source, database, free_port())
    daemon = Daemon(state, config, watchdog_usec=500_000)  # STATUS= every 0.25 s
    rows: list[tuple[object, ...]] = []
    try:
        for frames in RSS_POINTS:
            deadline = time.monotonic() + TIMEOUT
            while daemon.frames() < frames:
                if daemon.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the daemon stopped at {daemon.frames()} frames")
                time.sleep(0.05)
            rows.append((store_interval, daemon.frames(), daemon.rss_kib()))
    finally:
        daemon.stop()
    growth = rows[-1][2] - rows[0][2]  # type: ignore[operator]
    rows.append((store_interval, "growth", growth))
    return rows


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        print_table(
            f"End to end: {FRAMES:,} frames replayed at full speed through decoder, guard, "
            f"database (every frame) and {CLIENTS} socket clients",
            ["database", "frames/s", "CPU µs/frame", "rows stored", "lines/client", "exit"],
            end_to_end(directory),
        )
        print_table(
            "Daemon resident memory, replay looping at full speed (SQLite, socket server)",
            ["store_interval (s)", "frames", "VmRSS (KiB)"],
            memory(directory, store_interval=5) + memory(directory, store_interval=0),
        )


if __name__ == "__main__":
    print(machine())
    main()
