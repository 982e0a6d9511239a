"""The HTTP sink in this process, over real sockets: what a browser, a scraper or a hostile
peer can do to it, and what a frame costs it."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Callable

import pytest

from teleinforeader.settings import HttpSettings
from teleinforeader.sinks import PipelineView
from teleinforeader.sinks.http.protocol import PHRASES, Status
from teleinforeader.sinks.http.sink import HttpSink
from teleinforeader.sinks.http.static import FILES
from teleinforeader.tic import Frame, decode
from tests.support.sinks import started_sinks
from tests.support.waiting import wait_for
from tests.web.http_helpers import Reading

Start = Callable[..., HttpSink]


def frame(papp: int) -> Frame:
    (decoded,) = decode(
        Reading(1_000_000 + papp, 2_000_000, papp).wire(), received_at=datetime.now(timezone.utc)
    )
    return decoded


@pytest.fixture
def start() -> Iterator[Start]:
    def build(**settings: object) -> HttpSink:
        return HttpSink(
            HttpSettings(host="127.0.0.1", port=0, **settings),  # type: ignore[arg-type]
            PipelineView(),
            silence_timeout=30,
        )

    with started_sinks(build, 2) as start_sink:
        yield start_sink


def port(sink: HttpSink) -> int:
    assert sink.address is not None
    return sink.address[1]


def raw(sink: HttpSink, request: bytes) -> bytes:
    """Send `request` as is and read until the server closes."""
    with socket.create_connection(("127.0.0.1", port(sink)), timeout=10) as client:
        client.sendall(request)
        received = b""
        while chunk := client.recv(65536):
            received += chunk
    return received


def counters(sink: HttpSink) -> dict[str, int]:
    return dict(sink.status().counters)


def test_page_files_are_all_served_and_nothing_else(start: Start) -> None:
    sink = start()
    connection = http.client.HTTPConnection("127.0.0.1", port(sink), timeout=10)
    for name in FILES:  # one kept-alive connection for all of them
        connection.request("GET", f"/static/{name}")
        answer = connection.getresponse()
        assert answer.status == 200 and answer.read(), name
    connection.request("GET", "/", headers={"Accept-Encoding": "gzip"})
    answer = connection.getresponse()
    body, etag = answer.read(), answer.getheader("ETag")
    assert answer.getheader("Content-Encoding") == "gzip" and body[:2] == b"\x1f\x8b"
    assert "default-src 'none'" in answer.getheader("Content-Security-Policy")
    connection.request("GET", "/", headers={"If-None-Match": etag})
    answer = connection.getresponse()
    assert answer.status == 304 and answer.read() == b""
    connection.request("GET", "/static/../settings.py")
    assert connection.getresponse().status == 404
    connection.close()
    assert counters(sink)["connects"] == 1


def test_pipelined_requests_are_answered_in_order_and_head_has_no_body(start: Start) -> None:
    sink = start()
    sink.submit(frame(1234))
    received = raw(
        sink,
        b"GET /api/v1/latest HTTP/1.1\r\nHost: x\r\n\r\n"
        b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    first, second, third = received.split(b"HTTP/1.1 ")[1:]
    assert first.startswith(b"200 OK") and b'"value":1234' in first
    assert second.startswith(b"200 OK") and second.endswith(b"\r\n\r\n")  # no body for HEAD
    assert third.startswith(b"404 Not Found") and b"Connection: close" in third


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"POST /api/v1/latest HTTP/1.1\r\n\r\n", b"405"),
        (b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", b"413"),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n", b"431"),
        (b"GET /\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\n bad header\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\nX: \xff\r\n\r\n", b"400"),
    ],
    ids=["post", "body", "huge-head", "http-0.9", "bad-header", "not-ascii"],
)
def test_a_bad_request_gets_its_status_then_the_connection_closes(
    start: Start, request_bytes: bytes, status: bytes
) -> None:
    sink = start()
    answer = raw(sink, request_bytes)
    assert answer.startswith(b"HTTP/1.1 " + status), answer[:80]
    assert b"Connection: close" in answer
    assert counters(sink)["bad_requests"] == 1


def test_allow_list_and_max_clients_refuse_before_reading(start: Start) -> None:
    outside = start(allow=("192.0.2.0/24",))
    assert raw(outside, b"").startswith(b"HTTP/1.1 403 Forbidden")
    inside = start(allow=("127.0.0.0/8",), max_clients=1)
    with socket.create_connection(("127.0.0.1", port(inside))):
        wait_for(lambda: counters(inside)["clients"] == 1)
        assert raw(inside, b"").startswith(b"HTTP/1.1 503")
    assert counters(outside)["refused"] == 1 and counters(inside)["refused"] == 1


def test_idle_and_unfinished_connections_are_closed(start: Start) -> None:
    sink = start()
    sink.keep_alive = 0.3
    with socket.create_connection(("127.0.0.1", port(sink)), timeout=10) as idle:
        idle.sendall(b"GET /healthz HTTP/1.1\r\n")  # never finished
        assert idle.recv(100) == b""  # closed by the server
    wait_for(lambda: counters(sink)["clients"] == 0)


def read_events(stream: socket.socket, count: int) -> list[dict]:
    """The next `count` whole readings of an event stream (an event cut by the end of a read
    is finished first; one begun before this call, whose head was read earlier, is skipped)."""
    data = b""
    while True:
        parts = data.split(b"\n\n")[:-1]  # the last part is not finished yet
        events = [part for part in parts if b"event: reading\ndata: " in part]
        if len(events) >= count:
            return [json.loads(part.split(b"data: ", 1)[1]) for part in events[:count]]
        chunk = stream.recv(65536)
        assert chunk, "the server closed the stream"
        data += chunk


def open_stream(sink: HttpSink, receive_buffer: int | None = None) -> socket.socket:
    stream = socket.socket()
    if receive_buffer is not None:
        stream.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    stream.settimeout(10)
    stream.connect(("127.0.0.1", port(sink)))
    stream.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
    return stream


def test_without_a_stream_a_frame_wakes_nothing_with_one_each_frame_is_pushed(
    start: Start,
) -> None:
    sink = start()
    before = counters(sink)["wakeups"]
    for n in range(200):
        sink.submit(frame(n))
    assert counters(sink)["wakeups"] == before  # only the latest frame was kept

    with open_stream(sink) as stream:
        (first,) = read_events(stream, 1)
        assert first["power"]["value"] == 199  # the latest, at once
        sink.submit(frame(500))
        (pushed,) = read_events(stream, 1)
        assert pushed["power"]["value"] == 500
        wait_for(lambda: counters(sink)["streams"] == 1)
    wait_for(lambda: counters(sink)["streams"] == 0)
    assert counters(sink)["events_sent"] == 2


def test_a_browser_on_the_live_stream_ends_the_readers_rest(start: Start) -> None:
    sink = start()
    hurried: list[bool] = []
    sink.on_hurry(lambda: hurried.append(True))
    assert sink.patience() == float("inf")  # nobody follows the frames: they may wait
    with open_stream(sink):
        wait_for(lambda: counters(sink)["streams"] == 1)
        assert hurried == [True]
        assert sink.patience() == 0
    wait_for(lambda: counters(sink)["streams"] == 0)
    assert sink.patience() == float("inf")


def test_a_stream_that_stops_reading_is_dropped_and_the_others_go_on(start: Start) -> None:
    sink = start()
    sink.submit(frame(1))
    stalled = open_stream(sink, receive_buffer=4096)
    reader = open_stream(sink)
    wait_for(lambda: counters(sink)["streams"] == 2)
    n = 1
    while counters(sink)["dropped_slow"] == 0:
        n += 1
        assert n < 5000, "the stalled stream was never dropped"
        sink.submit(frame(n % 6000))
        read_events(reader, 1)  # the reader keeps up: one event per frame it sees
    assert counters(sink)["streams"] == 1
    sink.submit(frame(6001))
    assert read_events(reader, 1)[0]["power"]["value"] == 6001
    stalled.close()
    reader.close()


def test_each_status_is_http_s_own_number_and_words() -> None:
    """`Status` stands for the members of `http.HTTPStatus` the server answers with (that enum
    costs every start some sixty members to build)."""
    statuses = {name: value for name, value in vars(Status).items() if name.isupper()}
    assert statuses == {name: HTTPStatus[name].value for name in statuses}
    assert set(PHRASES) == set(statuses.values())
    for value, phrase in PHRASES.items():  # 413 is "Content Too Large" from Python 3.13 on
        assert phrase == HTTPStatus(value).phrase or value == Status.REQUEST_ENTITY_TOO_LARGE
