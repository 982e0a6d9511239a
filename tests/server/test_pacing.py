"""Pacing: lines that come together reach a client that keeps up one read at a time, even
through a link that batches what arrives within 100 ms, with the default `line_gap`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Callable

import pytest

from teleinforeader.jsonline import frame_to_json_line
from teleinforeader.settings import ServerSettings
from teleinforeader.sinks.server import ServerSink
from tests.server.server_helpers import LineClient, connected, historic_frame
from tests.support.batching_proxy import BatchingProxy
from tests.support.teleinfomonitor import TeleInfoMonitorClient, reads_reach
from tests.support.waiting import wait_for

Start = Callable[..., ServerSink]
DEFAULT_GAP = ServerSettings().line_gap
# What the plausibility guard releases at once at most: a held frame, the frames waiting behind
# it (guard.MAX_WAITING) and the frame that settles it.
LARGEST_BURST = 6
BURSTS = 20  # pairs of frames sent back to back before giving up on seeing one joined


@pytest.fixture
def proxy_to() -> Iterator[Callable[[ServerSink], BatchingProxy]]:
    proxies: list[BatchingProxy] = []

    def start(sink: ServerSink) -> BatchingProxy:
        proxy = BatchingProxy(sink.address)  # type: ignore[arg-type]
        proxies.append(proxy)
        return proxy

    yield start
    for proxy in proxies:
        proxy.close()


def indexes(monitor: TeleInfoMonitorClient) -> list[int]:
    return [frame["total_base_index_in_wh"] for frame in monitor.frames]


def lines_reach(monitor: TeleInfoMonitorClient, count: int) -> Callable[[], bool]:
    """For wait_for: the monitor has read `count` lines, or its reader thread ended."""
    return lambda: (
        sum(read.count(b"\n") for read in monitor.reads) >= count or monitor.ended.is_set()
    )


def test_bursts_reach_teleinfomonitor_one_line_per_read_through_a_batching_link(
    start_server: Start, proxy_to: Callable[[ServerSink], BatchingProxy]
) -> None:
    sink = start_server(line_gap=DEFAULT_GAP)
    proxy = proxy_to(sink)
    sink.submit(historic_frame(1))
    monitor = TeleInfoMonitorClient(proxy.address)
    wait_for(reads_reach(monitor, 1))  # the latest frame, on connect ...
    sink.submit(historic_frame(2))  # ... and a new one right after it
    wait_for(reads_reach(monitor, 2))
    sent = [1, 2]
    for size in (2, 3, LARGEST_BURST):  # the guard's bursts
        burst = list(range(sent[-1] + 1, sent[-1] + 1 + size))
        for index in burst:
            sink.submit(historic_frame(index))
        sent += burst
        wait_for(reads_reach(monitor, len(sent)))
    assert monitor.failure is None
    assert indexes(monitor) == sent and len(monitor.reads) == len(sent)
    assert proxy.batches == len(sent) and proxy.joined == 0
    counters = sink.status().counters
    assert counters["lines_skipped"] == counters["dropped_slow"] == 0
    monitor.stop()


def test_without_a_gap_the_batching_link_joins_lines_and_teleinfomonitor_stops(
    start_server: Start, proxy_to: Callable[[ServerSink], BatchingProxy]
) -> None:
    """What the pacing is for: a burst sent back to back is one read, and json.loads fails."""
    sink = start_server(line_gap=0)
    proxy = proxy_to(sink)
    monitor = TeleInfoMonitorClient(proxy.address)
    wait_for(connected(sink, 1))
    # Two frames back to back, again while each pair came through in two reads: on a loaded
    # machine a pair's second line may leave later than the link's window now and then.
    for pair in range(BURSTS):
        sink.submit(historic_frame(2 * pair + 1))
        sink.submit(historic_frame(2 * pair + 2))
        wait_for(lines_reach(monitor, 2 * pair + 2))
        if monitor.ended.is_set():
            break
    assert monitor.ended.is_set(), f"{BURSTS} pairs of lines, none joined"
    assert monitor.failure is not None and "Extra data" in monitor.failure.error
    assert monitor.failure.read.count(b"\n") == 2
    assert proxy.joined == 1 and indexes(monitor) == list(range(1, 2 * pair + 1))


def test_lines_wait_in_order_and_none_is_lost_when_frames_outpace_the_gap_briefly(
    start_server: Start, connect: Callable[..., LineClient]
) -> None:
    sink = start_server(line_gap=0.02)
    clients = [connect(sink.address) for _ in range(3)]
    wait_for(connected(sink, 3))
    for index in range(40):  # 40 frames at once: 0.8 s of lines for every client
        sink.submit(historic_frame(index))
    for client in clients:
        assert [client.read_index() for _ in range(40)] == list(range(40))
    counters = sink.status().counters
    assert counters["lines_skipped"] == counters["dropped_slow"] == 0


def test_frames_faster_than_the_gap_for_long_skip_the_oldest_lines_not_the_client(
    start_server: Start, connect: Callable[..., LineClient], caplog: pytest.LogCaptureFixture
) -> None:
    """A replay far faster than the line: the queue keeps what it can hold, the newest lines."""
    line = len(frame_to_json_line(historic_frame(0)))
    sink = start_server(line_gap=0.05, client_buffer=3 * line)
    client = connect(sink.address)
    wait_for(connected(sink, 1))
    for index in range(20):
        sink.submit(historic_frame(index))
    received = [client.read_index()]
    while received[-1] != 19:
        received.append(client.read_index())
    assert received[0] == 0 and received == sorted(received)  # the first went out at once
    counters = sink.status().counters
    assert counters["lines_skipped"] == 20 - len(received) > 0
    assert counters["dropped_slow"] == 0 and counters["clients"] == 1
    assert "faster than [server] line_gap allows" in caplog.text
