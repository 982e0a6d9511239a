"""Socket server: delivery latency (submit -> line received) and the server thread's CPU per frame.

The server runs in this process, fed at a fixed high frame rate (100x a historic meter) from
the main thread, as the dispatch thread would. Its clients run in a child process (so their
reading does not compete for this process's GIL): each connects, reads everything, and notes
when each line arrived, on the monotonic clock both processes share. Latency therefore includes
the client side's scheduling on a shared machine: it is an upper bound of the server's part.

CPU per frame is the server thread's own CPU clock over the run divided by the frames, so it
counts encoding once plus one send per client. `submit` is what the dispatch thread pays: an
append and a wake-up byte, in wall time (which includes handing the GIL to the woken server
thread). `frame_to_json_line` alone is timed too: encoding in `submit` would add that to the
dispatch thread for every frame, even with no client connected, where the server thread pays it
only when someone listens.

Lines are paced (`[server] line_gap`): the runs at 100x a meter's rate scale the gap by the same
factor (2.5 ms for 10 ms between frames), so each line meets a client whose previous line is
older than the gap, as on a real line. One run feeds a client at the line's pace with the default
gap itself; its latency is the steady state a TeleInfoMonitor user sees.
"""

from __future__ import annotations

import json
import random
import selectors
import socket
import statistics
import sys
import time
from datetime import datetime
from typing import Callable, NamedTuple

from benchmarks.common import (
    machine,
    median_seconds,
    print_table,
    start_helper,
    submit_paced,
    thread_cpu_seconds,
)
from benchmarks.decode import _historic_base as historic_base_groups
from teleinforeader.jsonline import frame_to_json_line
from teleinforeader.settings import ServerSettings
from teleinforeader.sinks.server import ServerSink
from teleinforeader.tic import Frame, decode, encode_frame

FRAME_RATE = 100.0  # frames/s: a historic meter sends about one a second
FRAMES = 300
CLIENT_COUNTS = (0, 1, 100, 500)
LINE_GAP = ServerSettings().line_gap
LINE_RATE = 2.0  # frames/s for the run at the line's pace: a little faster than a real meter
LINE_FRAMES = 20
INDEX_MARK = b'"BASE":"'


def build_frames(count: int) -> list[Frame]:
    """Realistic historic frames (varying power and current) whose BASE index is their number."""
    rng = random.Random(54)
    now = datetime.now()
    frames = []
    for n in range(count):
        groups = [(label, f"{n:09d}" if label == "BASE" else value) for label, value in
                  historic_base_groups(n, rng)]  # fmt: skip
        frames += decode(encode_frame(groups, "historic"), received_at=now)
    return frames


def receive(port: int, clients: int, frames: int) -> None:
    """Child process: connect `clients` sockets, print the arrival time of every line as JSON."""
    selector = selectors.DefaultSelector()
    for _ in range(clients):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, [b"", []])
    print("ready", flush=True)
    open_clients = clients
    while open_clients:
        for key, _ in selector.select():
            state = key.data
            data = key.fileobj.recv(65536)  # type: ignore[union-attr]
            arrived = time.monotonic()
            if not data:
                selector.unregister(key.fileobj)
                open_clients -= 1
                continue
            *lines, state[0] = (state[0] + data).split(b"\n")
            for line in lines:
                start = line.index(INDEX_MARK) + len(INDEX_MARK)
                state[1].append((int(line[start : start + 9]), arrived))
            if len(state[1]) == frames:
                selector.unregister(key.fileobj)
                key.fileobj.close()  # type: ignore[union-attr]
                open_clients -= 1
                print(json.dumps(state[1]), flush=True)


class Run(NamedTuple):
    latencies: list[float]  # seconds from submit() to the line's arrival, every line
    server_cpu: float  # seconds of the server thread's CPU over the run
    submit_calls: list[float]  # seconds each submit() took in the feeding thread


def run_clients(clients: int, frames: list[Frame], rate: float, line_gap: float) -> Run:
    settings = ServerSettings(host="127.0.0.1", port=0, max_clients=clients, line_gap=line_gap)
    sink = ServerSink(settings)
    sink.start()
    port = sink.address[1]  # type: ignore[index]
    child = start_helper("benchmarks.server", "--receive", port, clients, len(frames))
    try:
        while sink.status().counters["clients"] < clients:
            time.sleep(0.01)
        cpu_before = thread_cpu_seconds(sink._worker)
        submitted, submit_calls = submit_paced(sink, frames, rate)
        while sink.status().backlog:
            time.sleep(0.01)
        assert child.stdout is not None
        cpu = thread_cpu_seconds(sink._worker) - cpu_before
        latencies = []
        for line in child.stdout:
            latencies += [arrived - submitted[index] for index, arrived in json.loads(line)]
        child.wait(60)
    finally:
        sink.close(1.0)
        if child.poll() is None:
            child.kill()
    return Run(latencies, cpu, submit_calls)


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (fraction 1.0 = the maximum)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def per_call(encode: Callable[[Frame], bytes], frame: Frame, repeat: int = 20_000) -> float:
    """Microseconds per call, median of 5 runs."""
    return median_seconds(lambda: [encode(frame) for _ in range(repeat)]) / repeat * 1e6


def main() -> None:
    frames = build_frames(FRAMES)
    runs = [(clients, frames, FRAME_RATE, LINE_GAP / FRAME_RATE) for clients in CLIENT_COUNTS]
    runs.append((1, frames[:LINE_FRAMES], LINE_RATE, LINE_GAP))
    rows = []
    for clients, fed, rate, line_gap in runs:
        run = run_clients(clients, fed, rate, line_gap)
        latency = [percentile(run.latencies, q) * 1e3 for q in (0.5, 0.99, 1.0) if run.latencies]
        rows.append(
            (
                str(clients),
                f"{len(fed)} at {rate:g}/s",
                f"{line_gap * 1e3:g}",
                f"{len(run.latencies)}/{clients * len(fed)}",
                *(latency if run.latencies else ["-"] * 3),
                run.server_cpu / len(fed) * 1e6,
                statistics.median(run.submit_calls) * 1e6,
            )
        )
    print_table(
        "Socket server: historic frames, clients in a child process",
        [
            "clients",
            "frames",
            "line_gap ms",
            "lines",
            "p50 ms",
            "p99 ms",
            "max ms",
            "server CPU µs/frame",
            "submit µs (wall)",
        ],
        rows,
    )
    print_table(
        "The JSON encoding, paid once per frame in the server thread (only when a client listens)",
        ["step", "µs"],
        [("frame_to_json_line, historic BASE frame", per_call(frame_to_json_line, frames[0]))],
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--receive"]:
        receive(*map(int, sys.argv[2:5]))  # type: ignore[arg-type]
    else:
        print(machine())
        print()
        main()
