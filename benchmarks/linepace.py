"""At the line's real pace: what a frame costs the daemon when its bytes come as a meter sends them.

The other benchmarks feed frames as fast as possible. A real line brings about 120 bytes a
second (historic, 1200 baud) or 960 (standard, 9600 baud), and the port hands them over a few at
a time: one by one from a UART without FIFO, about two per read through a USB adapter (its 16 ms
latency timer at 1200 baud), 16 from a FIFO, 64 from a USB packet. What costs then is waking up,
not decoding; a Pi Zero has one core, about 20 times slower than this machine's.

The daemon runs as systemd runs it (a real process, `benchmarks.process`): the serial source on
a pty, SQLite (one row every 5 s, as installed), the socket server, the web server with no
browser, the watchdog of the unit (60 s). A writer thread plays a simulated meter's frames on
the pty's master at the line's pace: 10 bits a byte (7E1, or 8N1 as a pty is opened), each
arrival written when its last byte would be in, a frame's last arrival when its ETX is (the
UART's receive timeout, the adapter's latency timer), and 25 ms between frames (the TIC gap is
16.7 to 33.4 ms).

For each line (historic single-phase at 1200 baud, standard three-phase at 9600) and each
arrival size, one daemon is measured over MEASURED frames with no client (the usual case on a
Pi), then over MEASURED more with one TCP client:

- CPU per frame: the daemon's own CPU time (utime + stime, summed over its threads from
  /proc/PID/task/*/schedstat, in nanoseconds: a 10 ms tick is too coarse for a few frames),
  and of it the database writer's (a row every 5 s, each its own commit with the default
  `flush_interval`: work the full-speed replay, whose rows are 5 s of wall time apart, all but
  never does), with the ratio of the rest;
- the ratio to the same daemon's CPU per frame when it replays the same frames from a capture
  in a loop as fast as it can (full speed, no client), measured in the same run;
- sleeps per frame: how often the reader thread blocked and was woken again (its voluntary
  context switches), then the same over all the daemon's threads (the hops between threads);
- with the client, the delivery latency, p50 and p99: from the write of a frame's last byte to
  the arrival of its JSON line at the client (frames are matched by content, in order).

A second table gives the floor under the ratio: the same work (decode, guard, JSON line) done in
this process on one frame at a time, back to back, then after a second asleep each time, as a
frame at the line's pace comes. What a thread does after sleeping runs from cold caches (and,
on a virtual machine, a vCPU woken up), so it costs several times more with no wake-up to save.

A third table gives what the database's commits cost at the line's pace (the historic line, no
client): each commit is an fsync, and with the installed `flush_interval` (2 s) every stored row
is its own. Committing every 10 or 30 s instead batches the rows of that time, at the price of
what a power cut may lose.

`--against REVISION` measures the daemon of another commit first, with the same frames, line
and sinks (`git archive` of it, built and installed as `benchmarks.startup` does it), then this
checkout's, in one run: the main table before and after, without the other two.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import tempfile
import threading
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from itertools import islice
from pathlib import Path
from typing import NamedTuple

from benchmarks.common import machine, print_table
from benchmarks.fullspeed import full_speed
from benchmarks.process import Daemon, Launch, free_port, write_config
from benchmarks.startup import build_wheel, install
from teleinforeader.guard import PlausibilityGuard
from teleinforeader.jsonline import frame_to_json_line
from teleinforeader.settings import DatabaseSettings
from teleinforeader.sources.pacing import BAUD_OF_MODE, BITS_PER_BYTE
from teleinforeader.sources.simulator import Simulator
from teleinforeader.tic import Decoder, decode

LINES = (
    ("historic single-phase", "historic-base"),
    ("standard three-phase", "standard-tri"),
)
ARRIVALS = (1, 2, 16, 64)
WARMUP = 3  # frames: the guard holds the first index until the second frame confirms it
MEASURED = 30  # frames per line, arrival size and phase (no client, one client): 38 s each
SETTLED = 2  # frames between the client's arrival and its measure
SAMPLE_DELAY = 0.3  # seconds after a frame's last byte when CPU is sampled: it is handled by then
FULL_SPEED_FRAMES = 3000
FRAME_GAP = 0.025  # seconds between a frame's ETX and the next STX
UNIT_WATCHDOG_USEC = 60_000_000  # WatchdogSec=60 in config/teleinforeader.service
TIMEOUT = 120.0
ASLEEP = 1.0  # seconds between two frames of the floor's cold measure
FLOOR_FRAMES = 15  # frames measured cold (and 20 times as many hot)
INSTALLED = DatabaseSettings()  # [database] as installed: store_interval, flush_interval
DEFAULT_FLUSH = INSTALLED.flush_interval
STORE_INTERVAL = INSTALLED.store_interval
FLUSHES = (DEFAULT_FLUSH, 10.0, 30.0)  # the third table's commit intervals
FLUSH_FRAMES = 64  # frames per commit interval (about a minute of a historic line)
FLUSH_ARRIVAL = 16  # bytes per arrival there: a UART with a FIFO

FrameKey = tuple[tuple[str, str], ...]


class Window(NamedTuple):
    cpu_us: float  # per frame
    database_us: float  # per frame, of it: the database writer's thread (a row every 5 s)
    reader_sleeps: float  # per frame
    all_sleeps: float  # per frame


def linepace_config(
    directory: Path, source: str, mode: str, port: int, flush_interval: float = DEFAULT_FLUSH
) -> Path:
    return write_config(
        directory,
        f'[source]\n{source}\nmode = "{mode}"\n'
        f'[database]\nbackend = "sqlite"\nflush_interval = {flush_interval}\n'
        f'[server]\nhost = "127.0.0.1"\nport = {port}\n'
        f'[http]\nhost = "127.0.0.1"\nport = {free_port()}\n',  # on, as installed; no browser
    )


class LineClient(threading.Thread):
    """A TCP client of the daemon: notes when each JSON line arrives, and the frame it holds."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.arrivals: list[tuple[float, FrameKey]] = []

    def run(self) -> None:
        pending = b""
        with self.sock:
            while True:
                try:
                    data = self.sock.recv(1 << 16)
                except OSError:
                    return
                arrived = time.monotonic()
                if not data:
                    return
                *lines, pending = (pending + data).split(b"\n")
                for line in lines:
                    frame = json.loads(line)["frame"]
                    self.arrivals.append((arrived, tuple(frame.items())))


class LineFeeder(threading.Thread):
    """Writes frames on a pty's master at `baud`, `arrival` bytes at a time."""

    def __init__(self, master: int, frames: Sequence[bytes], baud: int, arrival: int):
        super().__init__(daemon=True)
        self.master = master
        self.frames = frames
        self.byte_seconds = BITS_PER_BYTE / baud
        self.arrival = arrival
        self.written_at: list[float] = []  # when each frame's last byte was written

    def run(self) -> None:
        due = time.monotonic()
        for frame in self.frames:
            for start in range(0, len(frame), self.arrival):
                chunk = frame[start : start + self.arrival]
                due += len(chunk) * self.byte_seconds
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                _write_all(self.master, chunk)
            self.written_at.append(time.monotonic())
            due += FRAME_GAP

    def wait_written(self, frames: int) -> None:
        """Until `frames` frames are on the line, and SAMPLE_DELAY more for the daemon."""
        deadline = time.monotonic() + TIMEOUT
        while len(self.written_at) < frames:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(self.written_at)} of {frames} frames written")
            time.sleep(0.01)
        time.sleep(max(self.written_at[frames - 1] + SAMPLE_DELAY - time.monotonic(), 0))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class Bench:
    """One daemon on a fresh pty and state directory."""

    def __init__(
        self,
        directory: Path,
        mode: str,
        flush_interval: float = DEFAULT_FLUSH,
        launch: Launch | None = None,
    ) -> None:
        directory.mkdir()
        self.mode = mode
        self.master, self.slave = os.openpty()
        self.port = free_port()
        source = f'type = "serial"\ndevice = "{os.ttyname(self.slave)}"'
        config = linepace_config(directory, source, mode, self.port, flush_interval)
        self.daemon = Daemon(directory, config, watchdog_usec=UNIT_WATCHDOG_USEC, **(launch or {}))
        self.daemon.seconds_to_ready()

    def play(self, frames: Sequence[bytes], arrival: int) -> tuple[int, LineFeeder]:
        """Start playing `frames` on the line, `arrival` bytes at a time; (the daemon's reader
        thread, the feeder)."""
        reader = _reader_thread(self.daemon)
        feeder = LineFeeder(self.master, frames, BAUD_OF_MODE[self.mode], arrival)
        feeder.start()
        return reader, feeder

    def connect(self) -> LineClient:
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                client = LineClient(self.port)
                break
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        client.start()
        return client

    def close(self) -> None:
        try:
            self.daemon.stop()
        finally:
            os.close(self.master)
            os.close(self.slave)


def _window(daemon: Daemon, reader: int, feeder: LineFeeder, first: int, last: int) -> Window:
    """The daemon's CPU and sleeps per frame while frames `first` to `last` (excluded) came."""
    (writer,) = daemon.thread_ids("database-writer")
    feeder.wait_written(first)
    cpu, reader_sleeps, all_sleeps = daemon.cpu_ns(), daemon.sleeps(reader), daemon.sleeps()
    database = daemon.cpu_ns(writer)
    feeder.wait_written(last)
    frames = last - first
    return Window(
        (daemon.cpu_ns() - cpu) / frames / 1000,
        (daemon.cpu_ns(writer) - database) / frames / 1000,
        (daemon.sleeps(reader) - reader_sleeps) / frames,
        (daemon.sleeps() - all_sleeps) / frames,
    )


def _reader_thread(daemon: Daemon) -> int:
    """The kernel id of the daemon's reader thread (READY=1 may come before it is named)."""
    deadline = time.monotonic() + TIMEOUT
    while not daemon.thread_ids("reader"):
        if time.monotonic() > deadline:
            raise RuntimeError("no thread named reader")
        time.sleep(0.01)
    (reader,) = daemon.thread_ids("reader")
    return reader


def paced(
    directory: Path, mode: str, frames: Sequence[bytes], arrival: int, launch: Launch | None = None
) -> tuple[Window, Window, list[float]]:
    """(no client, one client, the client's latencies in seconds)."""
    quiet_end = WARMUP + MEASURED
    listened_from = quiet_end + SETTLED
    bench = Bench(directory, mode, launch=launch)
    try:
        reader, feeder = bench.play(frames, arrival)
        quiet = _window(bench.daemon, reader, feeder, WARMUP, quiet_end)
        client = bench.connect()
        listened = _window(bench.daemon, reader, feeder, listened_from, len(frames))
        feeder.join()
    finally:
        bench.close()
    return quiet, listened, _latencies(frames, feeder.written_at, client.arrivals, listened_from)


def committed_less_often(
    directory: Path, mode: str, frames: Sequence[bytes], flush_interval: float
) -> Window:
    """The daemon with no client, committing every `flush_interval` seconds."""
    bench = Bench(directory, mode, flush_interval)
    try:
        reader, feeder = bench.play(frames, FLUSH_ARRIVAL)
        window = _window(bench.daemon, reader, feeder, WARMUP, len(frames))
        feeder.join()
    finally:
        bench.close()
    return window


def _latencies(
    frames: Sequence[bytes],
    written_at: Sequence[float],
    arrivals: Sequence[tuple[float, FrameKey]],
    first: int,
) -> list[float]:
    """Seconds from each frame's last byte to its line, from frame `first` on, matching equal
    frames in order."""
    waiting: dict[FrameKey, deque[int]] = defaultdict(deque)
    for index, raw in enumerate(frames):
        (frame,) = decode(raw)
        waiting[tuple(frame.items())].append(index)
    latencies = []
    for arrived, key in arrivals:
        indexes = waiting.get(key)
        while indexes and indexes[0] < first:  # sent before the client came
            indexes.popleft()
        if not indexes:  # a frame the guard changed: nothing to match it with
            continue
        index = indexes.popleft()
        latencies.append(arrived - written_at[index])
    return latencies


def _percentile(values: list[float], percent: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


def floor_of(frames: Sequence[bytes]) -> tuple[float, float, float]:
    """Median thread CPU µs to decode, guard and encode one frame: back to back, and each after
    ASLEEP seconds asleep, and their ratio."""
    decoder, guard = Decoder(), PlausibilityGuard()

    def cost(raw: bytes) -> float:
        start = time.thread_time_ns()
        for frame in decoder.feed(raw):
            for kept in guard.check(frame):
                frame_to_json_line(kept)
        return (time.thread_time_ns() - start) / 1000

    hot_count = 20 * FLOOR_FRAMES
    hot = [cost(raw) for raw in frames[:hot_count]]
    cold = []
    for raw in frames[hot_count : hot_count + FLOOR_FRAMES]:
        time.sleep(ASLEEP)
        cold.append(cost(raw))
    hot_median, cold_median = statistics.median(hot[FLOOR_FRAMES:]), statistics.median(cold)
    return hot_median, cold_median, cold_median / hot_median


def commit_intervals(directory: Path, frames: Sequence[bytes], mode: str) -> None:
    """The third table: what the database's commits cost at the line's pace, and what committing
    less often saves (a power cut may then lose up to `flush_interval` more of stored rows)."""
    windows = [
        committed_less_often(
            directory / f"flush-{flush_interval:g}", mode, frames[:FLUSH_FRAMES], flush_interval
        )
        for flush_interval in FLUSHES
    ]
    rows = [
        (
            f"{flush_interval:g} s",
            window.cpu_us,
            window.cpu_us / windows[0].cpu_us,
            window.database_us,
            f"{3600 / max(flush_interval, STORE_INTERVAL):.0f}",
        )
        for flush_interval, window in zip(FLUSHES, windows)
    ]
    print_table(
        f"Commits at the line's pace: the historic line, {FLUSH_ARRIVAL} bytes per arrival, "
        f"no client, {FLUSH_FRAMES - WARMUP} frames, SQLite every {STORE_INTERVAL:g} s",
        [
            "flush_interval",
            "CPU µs/frame",
            f"x {DEFAULT_FLUSH:g} s",
            "of it, database writer µs",
            "commits/h",
        ],
        rows,
    )


def line_frames() -> list[tuple[str, str, list[bytes]]]:
    """(name, mode, frames) of each line a simulated meter plays."""
    lines = []
    for name, profile in LINES:
        simulator = Simulator(profile)
        lines.append(
            (name, simulator.profile.mode, list(islice(simulator.frames(), FULL_SPEED_FRAMES)))
        )
    return lines


def paced_rows(
    directory: Path, lines: Sequence[tuple[str, str, list[bytes]]], launch: Launch | None
) -> list[tuple[object, ...]]:
    """The main table's rows: each line at full speed, then at each arrival size."""
    directory.mkdir()
    rows: list[tuple[object, ...]] = []
    paced_frames = WARMUP + 2 * MEASURED + SETTLED
    for name, mode, frames in lines:
        fast = full_speed(directory / f"{name}-fast", mode, frames, launch=launch)
        rows.append((name, "full speed", fast, 1.0, "", "", "", "", "", "", "", "", ""))
        for arrival in ARRIVALS:
            quiet, listened, latencies = paced(
                directory / f"{name}-{arrival}", mode, frames[:paced_frames], arrival, launch
            )
            rows.append(
                (
                    name,
                    arrival,
                    quiet.cpu_us,
                    quiet.cpu_us / fast,
                    quiet.database_us,
                    (quiet.cpu_us - quiet.database_us) / fast,
                    f"{quiet.reader_sleeps:.1f}",
                    f"{quiet.all_sleeps:.1f}",
                    listened.cpu_us,
                    listened.cpu_us / fast,
                    f"{listened.all_sleeps:.1f}",
                    f"{_percentile(latencies, 50) * 1000:.1f}",
                    f"{_percentile(latencies, 99) * 1000:.1f}",
                )
            )
    return rows


PACED_HEADER = [
    "line",
    "bytes/arrival",
    "CPU µs/frame",
    "x full speed",
    "of it, database writer µs",
    "x full speed, the rest",
    "reader sleeps/frame",
    "all sleeps/frame",
    "1 client: CPU µs/frame",
    "x full speed",
    "all sleeps/frame",
    "latency p50 ms",
    "p99 ms",
]


def main(against: str | None = None) -> None:
    lines = line_frames()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        daemons: dict[str, Launch | None] = {}
        if against is not None:
            copy = directory / f"installed-{against}"
            environ = install(build_wheel(directory, against), copy, compiled=True)
            daemons[f"the daemon of {against}"] = {"extra_environ": environ, "cwd": directory}
        daemons["this checkout's daemon"] = None
        if against is None:
            _, mode, frames = lines[0]
            commit_intervals(directory, frames, mode)
        for index, (label, launch) in enumerate(daemons.items()):
            print_table(
                f"At the line's pace, {label}: a pty at 1200 (historic) or 9600 (standard) baud, "
                f"SQLite every 5 s; {MEASURED} frames with no client, then {MEASURED} with 1 "
                f"client (full speed: no client)",
                PACED_HEADER,
                paced_rows(directory / f"daemon-{index}", lines, launch),
            )
    if against is None:
        print_table(
            f"The floor: one frame decoded, guarded and encoded in this process, back to back "
            f"and after {ASLEEP:.0f} s asleep (median thread CPU)",
            ["line", "back to back µs", "after sleeping µs", "x"],
            [(name, *floor_of(frames)) for name, _, frames in lines],
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--against", metavar="REVISION", help="measure this commit's daemon first, in the same run"
    )
    print(machine())
    main(parser.parse_args().against)
