"""Storage: rows/s flushing a backlog of 100,000 frames into MariaDB and SQLite, and the
spool's write and read rates.

The target: a day of frames at store_interval 0 (about 65,000) written in under 10 s. MariaDB
is a throwaway server (the tests' own), never the user's; SQLite a file in a temporary
directory. The backlog is submitted before the writer starts, then timed until committed.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.common import print_table
from teleinforeader.settings import DatabaseSettings, MariaDBSettings
from teleinforeader.sinks.database.backend import Backend
from teleinforeader.sinks.database.mariadb import MariaDBBackend
from teleinforeader.sinks.database.schema import RowBuilder, row_to_record
from teleinforeader.sinks.database.spool import Spool
from teleinforeader.sinks.database.sqlite import SQLiteBackend
from teleinforeader.sinks.database.writer import DatabaseSink
from teleinforeader.tic import Frame
from tests.storage.helpers import make_frames
from tests.support.mariadb_server import MariaDBServer, ServerUnavailableError

BACKLOG = 100_000
METERS = ("historic-base", "standard-mono")


def _flush(backend: Backend, frames: list[Frame], state_directory: Path) -> float:
    """Seconds from the writer's start until every frame of the backlog is committed."""
    settings = DatabaseSettings(store_interval=0, memory_backlog=len(frames) + 1)
    sink = DatabaseSink(backend, settings, state_directory)
    for frame in frames:
        sink.submit(frame)
    start = time.perf_counter()
    sink.start()
    while sink.status().counters.get("rows_written", 0) < len(frames):
        if not sink.status().alive:
            raise RuntimeError("the writer died")
        time.sleep(0.005)
    elapsed = time.perf_counter() - start
    sink.close(10)
    return elapsed


def _spool_rates(frames: list[Frame], directory: Path) -> tuple[float, float]:
    rows = RowBuilder("bench")
    records = [row_to_record(*rows.row(frame)) for frame in frames]
    spool = Spool(directory / "spool.jsonl")
    start = time.perf_counter()
    for index in range(0, len(records), 500):  # one fsync per writer turn of 500 rows
        spool.append(records[index : index + 500])
    written = time.perf_counter() - start
    start = time.perf_counter()
    while spool.pending:
        _, offset = spool.read(500)
        spool.release(offset)
    read = time.perf_counter() - start
    spool.close()
    return len(records) / written, len(records) / read


def _mariadb_backend(server: MariaDBServer, meter: str) -> MariaDBBackend:
    return MariaDBBackend(
        MariaDBSettings(
            host=server.host,
            port=server.port,
            user=server.user,
            password=server.password,
            database=f"bench_{meter.replace('-', '_')}",
        )
    )


def _start_mariadb(directory: Path) -> tuple[MariaDBServer | None, str]:
    """The throwaway server, or None and why not: SQLite is measured either way."""
    server = MariaDBServer(directory / "mariadb")
    try:
        server.start()
    except ServerUnavailableError as error:
        return None, str(error)
    return server, ""


def main() -> None:
    results = []
    spool_rows = []
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        server, why_not = _start_mariadb(directory)
        try:
            for meter in METERS:
                frames = make_frames(meter, BACKLOG)
                backends: list[tuple[str, Backend]] = []
                if server is not None:
                    backends.append(("MariaDB", _mariadb_backend(server, meter)))
                backends.append(("SQLite", SQLiteBackend(directory / f"{meter}.sqlite3")))
                for name, backend in backends:
                    seconds = _flush(backend, frames, directory / f"state-{name}-{meter}")
                    results.append((f"{name}, {meter}", BACKLOG, seconds, BACKLOG / seconds))
                written, read = _spool_rates(frames, directory / f"spool-{meter}")
                spool_rows.append((meter, written, read))
        finally:
            if server is not None:
                server.stop()
    print_table(
        f"Storage: flushing a backlog of {BACKLOG:,} frames (batch 500, one commit per batch)",
        ("backend, frames", "rows", "seconds", "rows/s"),
        results,
    )
    if server is None:
        print(f"No MariaDB rows: the throwaway server did not start: {why_not}\n")
    print_table(
        "Storage: spool (JSON lines, fsync per 500 records)",
        ("frames", "written records/s", "replayed records/s"),
        spool_rows,
    )


if __name__ == "__main__":
    main()
