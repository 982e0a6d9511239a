"""MQTT sink: CPU per frame at each publishing policy, and memory with the broker away.

CPU: a throwaway Mosquitto on loopback, the sink fed from the main thread as the pipeline
would, 100 frames a real second, while the sink's clock (which its policy reads) moves on by
the line's frame period each frame, so `interval` and `on_change` see the meter's real pace.
"CPU/frame" is the whole process's CPU time over the run (the sink's thread, paho, the
feeding loop) less the same loop with no sink, divided by the frames; "submit" is what the
pipeline thread pays per frame (thread CPU time around `submit`). A Pi Zero is about 20 times
slower per core: multiply.

Memory: no broker at all (a closed port: every attempt is refused at once) and an hour of
frames at the line's pace on the sink's clock (reconnection attempts follow it, up to one a
minute); the Python heap the sink holds after the first minute and after the hour, from
tracemalloc.
"""

from __future__ import annotations

import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

from benchmarks.common import machine, print_table
from teleinforeader.settings import MqttSettings
from teleinforeader.sinks.mqtt.sink import MqttSink
from teleinforeader.sources.simulator import Simulator
from teleinforeader.tic import Decoder, Frame
from tests.support.mosquitto import MosquittoBroker
from tests.support.server_process import free_port
from tests.support.waiting import wait_for

FRAMES = 300
RATE = 100.0  # frames a real second
PERIODS = {"historic-base": 1.3, "standard-tri": 1.3}  # seconds between two frames on the line
POLICIES = (
    ("every_frame", {}),
    ("interval", {"interval": 10.0}),
    ("on_change", {"interval": 10.0, "heartbeat": 300.0}),
)
HOUR = 3600.0


class LineClock:
    """The sink's clock: a frame period further at each frame, whatever the real time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def frames_of(profile: str, count: int) -> list[Frame]:
    decoder, frames, wire = Decoder(), [], Simulator(profile).frames()
    while len(frames) < count:
        frames += decoder.feed(next(wire))
    return frames[:count]


def process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def feed(sink: MqttSink, frames: list[Frame], clock: LineClock, period: float) -> float:
    """Feed at RATE; returns the pipeline thread's CPU spent in submit."""
    submit_cpu = 0.0
    start = time.monotonic()
    for n, frame in enumerate(frames):
        delay = start + n / RATE - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        clock.now += period
        before = time.thread_time()
        sink.submit(frame)
        submit_cpu += time.thread_time() - before
    return submit_cpu


class NoSink:
    """What a submit that does nothing costs the same way (the feeding loop's own share)."""

    def submit(self, frame: Frame) -> None:
        pass


def cpu_rows(broker: MosquittoBroker) -> list[list[object]]:
    rows: list[list[object]] = []
    for profile, period in PERIODS.items():
        frames = frames_of(profile, FRAMES)
        cpu = process_cpu()
        noop_submit = feed(NoSink(), frames, LineClock(), period)  # type: ignore[arg-type]
        baseline = process_cpu() - cpu
        rows.append([profile, "(no sink)", 0, 0.0, noop_submit / FRAMES * 1e6])
        for policy, options in POLICIES:
            clock = LineClock()
            settings = MqttSettings(enabled=True, host=broker.host, port=broker.port,
                                    publish=policy, **options)  # type: ignore[arg-type]  # fmt: skip
            sink = MqttSink(settings, "bench", "bench", clock=clock)
            sink.start()
            feed(sink, frames[:2], clock, period)  # connect and announce before measuring
            wait_for(lambda: sink.status().counters["broker_connections"] == 1)  # noqa: B023
            time.sleep(0.5)
            states = sink.status().counters["states"]
            cpu = process_cpu()
            submit_cpu = feed(sink, frames, clock, period)
            time.sleep(0.2)  # the last state leaves
            used = process_cpu() - cpu - baseline
            states = sink.status().counters["states"] - states
            sink.close(2.0)
            rows.append([profile, policy, states, used / FRAMES * 1e6, submit_cpu / FRAMES * 1e6])
    return rows


def memory_rows() -> list[list[object]]:
    rows: list[list[object]] = []
    for profile, period in PERIODS.items():
        count = int(HOUR / period)
        frames = frames_of(profile, count)
        clock = LineClock()
        settings = MqttSettings(enabled=True, host="127.0.0.1", port=free_port())
        sink = MqttSink(settings, "bench", "bench", clock=clock)
        sink.start()
        tracemalloc.start()
        minute = int(60 / period)
        feed_fast(sink, frames[:minute], clock, period)
        after_minute = tracemalloc.get_traced_memory()[0]
        feed_fast(sink, frames[minute:], clock, period)
        time.sleep(0.2)
        after_hour, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        counters = sink.status().counters
        sink.close(1.0)
        rows.append([profile, count, counters["broker_errors"], after_minute / 1024,
                     after_hour / 1024, peak / 1024])  # fmt: skip
    return rows


def feed_fast(sink: MqttSink, frames: list[Frame], clock: LineClock, period: float) -> None:
    for frame in frames:
        clock.now += period
        sink.submit(frame)
        time.sleep(0.0005)  # let the sink's thread see the clock move, as on a real line


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        broker = MosquittoBroker(Path(directory) / "broker")
        broker.start()
        try:
            rows = cpu_rows(broker)
        finally:
            broker.stop()
    print_table(
        f"MQTT sink, {FRAMES} frames at the line's pace on the sink's clock ({machine()})",
        ["meter", "publish", "states", "CPU/frame µs", "submit µs"],
        rows,
    )
    print_table(
        "MQTT sink, broker away for an hour of frames (Python heap, tracemalloc)",
        ["meter", "frames", "attempts", "after 1 min KiB", "after 1 h KiB", "peak KiB"],
        memory_rows(),
    )


if __name__ == "__main__":
    main()
