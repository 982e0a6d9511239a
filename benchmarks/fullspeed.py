"""At full speed: what a standard three-phase frame costs against a historic one, and where.

A standard three-phase frame has 53 groups and 1,214 bytes, a historic single-phase one 10
groups and 152 bytes; most of those groups are, byte for byte, those of the frame before. The
daemon runs as systemd runs it (a real process, `benchmarks.process`: SQLite every 5 s, the
socket server, the web server with no browser) and replays a simulated meter's frames from a
capture in a loop as fast as it can, first with no client, then with one TCP client reading
every line it is sent (the JSON line path). CPU per frame is the daemon's own (all its threads,
from /proc/PID/task/*/schedstat), taken in the steady state between two frame counts of its
STATUS= lines. Each figure is the median of ROUNDS measures, the lines taking turns, and the
last row gives the ratio of the two lines measured in the same run.

The second table splits a frame's cost in this process: decode (the frames of a capture fed in
the chunks the replay reads at full speed, `fast_chunk`), guard and JSON line, back to back.
"""

from __future__ import annotations

import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from itertools import islice
from pathlib import Path

from benchmarks.common import machine, print_table
from benchmarks.process import Daemon, Launch, free_port, write_config
from teleinforeader.guard import PlausibilityGuard
from teleinforeader.jsonline import frame_to_json_line
from teleinforeader.sources.pacing import BAUD_OF_MODE, fast_chunk
from teleinforeader.sources.simulator import Simulator
from teleinforeader.tic import Decoder

LINES = (
    ("historic single-phase", "historic-base"),
    ("standard three-phase", "standard-tri"),
)
FRAMES = 3000  # in the capture the daemon loops over
ROUNDS = 5
SECONDS = 2.0  # of steady state measured each time
PROGRESS_WATCHDOG_USEC = 400_000  # a STATUS= line (the frame count) every 0.2 s
TIMEOUT = 120.0


def daemon_config(directory: Path, capture: Path, mode: str, port: int) -> Path:
    """A replay of `capture` at full speed, looping, into the sinks a Pi runs as installed,
    the socket server on `port`."""
    return write_config(
        directory,
        f'[source]\ntype = "replay"\nfile = "{capture}"\nspeed = 0\nloop = true\n'
        f'mode = "{mode}"\n[database]\nbackend = "sqlite"\n'
        f'[server]\nhost = "127.0.0.1"\nport = {port}\n'
        f'[http]\nhost = "127.0.0.1"\nport = {free_port()}\n',
    )


class Reader(threading.Thread):
    """A TCP client that reads whatever it is sent, as fast as it comes."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.received = 0

    def run(self) -> None:
        with self.sock:
            while True:
                try:
                    data = self.sock.recv(1 << 16)
                except OSError:
                    return
                if not data:
                    return
                self.received += len(data)


def full_speed(
    directory: Path,
    mode: str,
    frames: Sequence[bytes],
    clients: int = 0,
    launch: Launch | None = None,
) -> float:
    """CPU µs per frame of the daemon replaying `frames` in a loop as fast as it can, with
    `clients` TCP clients reading every line: what the frames cost when no wake-up is needed
    for them. Measured between two frame counts of its STATUS= lines, each taken with the
    daemon's CPU time as soon as it comes, once past the start (memos warm)."""
    directory.mkdir()
    capture = directory / "capture.bin"
    capture.write_bytes(b"".join(frames))
    port = free_port()
    config = daemon_config(directory, capture, mode, port)
    daemon = Daemon(directory, config, watchdog_usec=PROGRESS_WATCHDOG_USEC, **(launch or {}))
    readers: list[Reader] = []
    try:
        daemon.seconds_to_ready()
        readers = [Reader(port) for _ in range(clients)]
        for reader in readers:
            reader.start()
        first = _next_count(daemon, len(frames) // 10)
        time.sleep(SECONDS)
        last = _next_count(daemon, first[0] + 1)
    finally:
        daemon.stop()
    if any(reader.received == 0 for reader in readers):
        raise RuntimeError("a client got no line")
    return (last[1] - first[1]) / (last[0] - first[0]) / 1000


def _next_count(daemon: Daemon, at_least: int) -> tuple[int, int]:
    """(frames, CPU ns) as soon as a STATUS= line counts a new total of at least `at_least`."""
    deadline = time.monotonic() + TIMEOUT
    seen = daemon.frames()
    while True:
        frames = daemon.frames()
        if frames != seen and frames >= at_least:
            return frames, daemon.cpu_ns()
        seen = frames
        if time.monotonic() > deadline or daemon.process.poll() is not None:
            raise RuntimeError(f"the replaying daemon counts {frames} frames")
        time.sleep(0.002)


def stages(mode: str, frames: Sequence[bytes]) -> tuple[float, float, float]:
    """µs per frame to decode, guard and encode (thread CPU), each chunk's frames going
    through the three in turn and then let go, as in the daemon, once the decoder's memos are
    warm: the best of ROUNDS."""
    data = b"".join(frames)
    size = fast_chunk(BAUD_OF_MODE[mode])
    chunks = [data[start : start + size] for start in range(0, len(data), size)]
    start = datetime.now(timezone.utc)
    best = [float("inf")] * 3
    for _ in range(ROUNDS):
        decoder, guard = Decoder(), PlausibilityGuard()
        decoder.feed(data)
        spent, count = [0, 0, 0], 0
        for chunk in chunks:
            began = time.thread_time_ns()
            decoded = decoder.feed(chunk)
            spent[0] += time.thread_time_ns() - began
            for frame in decoded:  # one a second, as a meter sends them
                frame.received_at = start + timedelta(seconds=count)
                count += 1
            began = time.thread_time_ns()
            kept = [ready for frame in decoded for ready in guard.check(frame)]
            spent[1] += time.thread_time_ns() - began
            began = time.thread_time_ns()
            for frame in kept:
                frame_to_json_line(frame)
            spent[2] += time.thread_time_ns() - began
        best = [min(old, new / count / 1000) for old, new in zip(best, spent)]
    return best[0], best[1], best[2]


def main() -> None:
    captures = {}
    for name, profile in LINES:
        simulator = Simulator(profile)
        captures[name] = (simulator.profile.mode, list(islice(simulator.frames(), FRAMES)))
    measures: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(ROUNDS):
            for clients in (0, 1):
                for name, (mode, frames) in captures.items():
                    directory = Path(tmp) / f"{round_}-{clients}-{mode}"
                    cost = full_speed(directory, mode, frames, clients)
                    measures.setdefault((name, clients), []).append(cost)
    daemon_rows: list[list[object]] = []
    stage_rows: list[list[object]] = []
    for name, (mode, frames) in captures.items():
        row = [statistics.median(measures[name, clients]) for clients in (0, 1)]
        daemon_rows.append([name, *row])
        stage_rows.append([name, *stages(mode, frames)])
    for rows in (daemon_rows, stage_rows):
        historic, standard = rows
        rows.append(["ratio", *(f"{s / h:.1f}x" for h, s in zip(historic[1:], standard[1:]))])
    print_table(
        f"At full speed: the daemon replaying a capture in a loop, SQLite every 5 s, socket "
        f"and web servers (median of {ROUNDS})",
        ["line", "no client: CPU µs/frame", "1 client: CPU µs/frame"],
        daemon_rows,
    )
    print_table(
        f"Where a frame's CPU goes, in this process (best of {ROUNDS})",
        ["line", "decode µs/frame", "guard µs/frame", "JSON line µs/frame"],
        stage_rows,
    )


if __name__ == "__main__":
    print(machine())
    main()
