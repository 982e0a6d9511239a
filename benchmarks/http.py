"""Web server: CPU per frame with 0, 1 and 10 browsers on the live stream, and the time to
serve /api/v1/history over 30 days of frames stored every 5 s (518,400 rows).

CPU per frame: the sink runs in this process, fed at a fixed rate from the main thread as the
dispatch thread would; the browsers are event-stream readers in a child process. The figure
is what `submit` costs the feeding thread (wall time, median) plus the HTTP thread's own CPU
clock over the run divided by the frames: with no browser, the thread must not run at all.

History: the rows are written straight into a throwaway MariaDB server and a SQLite file, then
each request is timed end to end through HTTP (median of 5): the page's two graphs (a day of
power by the minute, 30 days of energy per tariff period) and the largest power request the
bounds allow over 30 days (1440 points, every row read).
"""

from __future__ import annotations

import http.client
import selectors
import socket
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

from benchmarks.common import (
    machine,
    print_table,
    start_helper,
    submit_paced,
    thread_cpu_seconds,
)
from benchmarks.server import build_frames
from teleinforeader.settings import HttpSettings, MariaDBSettings
from teleinforeader.sinks import PipelineView
from teleinforeader.sinks.database.backend import Backend
from teleinforeader.sinks.database.history import History
from teleinforeader.sinks.database.mariadb import MariaDBBackend
from teleinforeader.sinks.database.schema import TABLES, RowBuilder
from teleinforeader.sinks.database.sqlite import SQLiteBackend
from teleinforeader.sinks.http.sink import HttpSink
from teleinforeader.tic import HISTORIC, decode
from tests.support.mariadb_server import MariaDBServer
from tests.web.http_helpers import Reading

FRAME_RATE = 100.0  # frames/s: a hundred times a historic meter
FRAMES = 300
BROWSERS = (0, 1, 10)
DAYS = 30
STORE_EVERY = timedelta(seconds=5)
ROWS = DAYS * 86400 // 5  # 518,400
BATCH = 10_000
READER = "bench"
REQUESTS = (
    ("power, last 24 h by the minute (the page)", "/api/v1/history?series=power"),
    ("energy, 30 days per day (the page)", "/api/v1/history?series=energy"),
    ("power, 30 days, 1440 points (every row)", "/api/v1/history?series=power&from={start}"),
)
EVENT_MARK = b"event: reading\n"


# -- CPU per frame -----------------------------------------------------------------------------


def read_streams(port: int, browsers: int) -> None:
    """Child process: `browsers` event streams, read until the server closes them; prints the
    readings each one got."""
    selector = selectors.DefaultSelector()
    for _ in range(browsers):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: bench\r\n\r\n")
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, [0, b""])
    print("ready", flush=True)
    open_streams = browsers
    while open_streams:
        for key, _ in selector.select():
            state = key.data
            data = key.fileobj.recv(65536)  # type: ignore[union-attr]
            tail = state[1] + data
            state[0] += tail.count(EVENT_MARK)
            state[1] = tail[-len(EVENT_MARK) :]
            if not data:
                selector.unregister(key.fileobj)
                key.fileobj.close()  # type: ignore[union-attr]
                open_streams -= 1
                print(state[0], flush=True)


def cpu_per_frame(browsers: int) -> tuple[float, float, int, str]:
    """(HTTP thread CPU µs per frame, submit µs per frame, wake-ups of the thread, readings
    each browser got)."""
    frames = build_frames(FRAMES + 1)
    sink = HttpSink(HttpSettings(host="127.0.0.1", port=0), PipelineView(), silence_timeout=30)
    sink.start()
    sink.submit(frames[0])
    child = start_helper("benchmarks.http", "--streams", sink.address[1], browsers)  # type: ignore[index]
    try:
        while sink.status().counters["streams"] < browsers:
            time.sleep(0.01)
        time.sleep(0.2)  # the first readings are out
        cpu_before = thread_cpu_seconds(sink._worker)
        wakeups_before = sink.status().counters["wakeups"]
        _, calls = submit_paced(sink, frames[1:], FRAME_RATE)
        sent = -1
        while sink.status().counters["events_sent"] != sent:  # until the thread is done
            sent = sink.status().counters["events_sent"]
            time.sleep(0.1)
        cpu = thread_cpu_seconds(sink._worker) - cpu_before
        wakeups = sink.status().counters["wakeups"] - wakeups_before
    finally:
        sink.close(1.0)
    got = child.communicate(timeout=60)[0].split()
    readings = f"{min(map(int, got))}-{max(map(int, got))}" if got else "-"
    return cpu / FRAMES * 1e6, statistics.median(calls) * 1e6, wakeups, readings


# -- history -----------------------------------------------------------------------------------


def seed(backend: Backend, end: datetime) -> float:
    """ROWS rows of a HC/HP meter, one every 5 s until `end`; returns the seconds it took."""
    (frame,) = decode(Reading(1_000_000, 2_000_000, 1000).wire())
    table = TABLES[HISTORIC]
    template = list(RowBuilder(READER).row(frame)[1])
    names = table.column_names
    hchc, hchp = names.index("hchc"), names.index("hchp")
    papp, iinst = (
        names.index("power_consumption_in_va"),
        names.index("instantaneous_intensity_in_a"),
    )
    statement = backend.dialect.insert_sql(table)
    started = time.perf_counter()
    connection = backend.connect()
    try:
        backend.upgrade(connection)
        cursor = connection.cursor()
        moment = end - STORE_EVERY * ROWS
        off_peak, peak = 1_000_000, 2_000_000
        for first in range(0, ROWS, BATCH):
            rows = []
            for n in range(first, min(first + BATCH, ROWS)):
                moment += STORE_EVERY
                if moment.hour >= 22 or moment.hour < 6:
                    off_peak += 1
                else:
                    peak += 2
                template[0] = moment.isoformat(sep=" ", timespec="microseconds")
                template[hchc], template[hchp] = off_peak, peak
                template[papp] = 300 + (n * 37) % 5000
                template[iinst] = template[papp] // 230
                rows.append(tuple(template))
            cursor.executemany(statement, rows)
            connection.commit()
    finally:
        connection.close()
    return time.perf_counter() - started


def serve_times(backend: Backend, start: datetime) -> list[float]:
    """Milliseconds to serve each of REQUESTS (median of 5, one kept-alive connection)."""
    sink = HttpSink(
        HttpSettings(host="127.0.0.1", port=0),
        PipelineView(),
        silence_timeout=30,
        history=partial(History, backend, READER),
    )
    sink.start()
    connection = http.client.HTTPConnection("127.0.0.1", sink.address[1], timeout=300)  # type: ignore[index]
    times = []
    try:
        for _, path in REQUESTS:
            durations = []
            for _ in range(5):
                began = time.perf_counter()
                connection.request("GET", path.format(start=int(start.timestamp())))
                answer = connection.getresponse()
                body = answer.read()
                durations.append(time.perf_counter() - began)
                if answer.status != 200:
                    raise RuntimeError(f"{path}: {answer.status} {body[:200]!r}")
            times.append(statistics.median(durations) * 1e3)
    finally:
        connection.close()
        sink.close(1.0)
    return times


def main() -> None:
    rows = [(str(browsers), *cpu_per_frame(browsers)) for browsers in BROWSERS]
    print_table(
        f"Web server: {FRAMES} historic frames at {FRAME_RATE:g} frames/s, browsers on the live"
        " stream in a child process",
        [
            "browsers",
            "HTTP thread CPU µs/frame",
            "submit µs (wall)",
            "thread wake-ups",
            "readings each",
        ],
        rows,
    )
    end = datetime.now().replace(microsecond=0)
    start = end - timedelta(days=DAYS)
    results = []
    seeding = []
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        backends: list[tuple[str, Backend]] = [("SQLite", SQLiteBackend(directory / "h.sqlite3"))]
        server = MariaDBServer(directory / "mariadb")
        try:
            server.start()
            backends.append(
                (
                    "MariaDB",
                    MariaDBBackend(
                        MariaDBSettings(
                            host=server.host,
                            port=server.port,
                            user=server.user,
                            password=server.password,
                            database="bench_history",
                        )
                    ),
                )
            )
        except Exception as exc:
            print(f"MariaDB row missing: {exc}")
        try:
            for name, backend in backends:
                seeding.append((name, ROWS, seed(backend, end)))
                for (what, _), milliseconds in zip(REQUESTS, serve_times(backend, start)):
                    results.append((f"{name}: {what}", milliseconds))
        finally:
            server.stop()
    print_table(
        f"Web server: /api/v1/history over {DAYS} days stored every 5 s ({ROWS:,} rows)",
        ["request", "ms (median of 5)"],
        results,
    )
    print_table("(seeding the rows)", ["backend", "rows", "seconds"], seeding)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--streams"]:
        read_streams(*map(int, sys.argv[2:4]))  # type: ignore[arg-type]
    else:
        print(machine())
        print()
        main()
