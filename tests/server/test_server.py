"""The socket server over real TCP on 127.0.0.1: delivery, slow and hostile clients, limits."""

from __future__ import annotations

import gc
import json
import os
import random
import socket
import struct
import threading
from datetime import datetime
from typing import Callable

import pytest

from teleinforeader.settings import ServerSettings
from teleinforeader.sinks.server import ServerSink, create_server_sink
from teleinforeader.sinks.server import sink as server_sink_module
from teleinforeader.tic import Frame, decode, encode_frame
from tests.server.server_helpers import (
    DATA,
    SHARED_CAPTURES,
    WAIT,
    LineClient,
    capture_frames,
    connected,
    historic_frame,
    submit_paced,
)
from tests.server.test_jsonline import HISTORIC_SINGLE_PHASE
from tests.support.threads import settled_sleeps, sleeps
from tests.support.waiting import wait_for

Start = Callable[..., ServerSink]
Connect = Callable[..., LineClient]


def counter(sink: ServerSink, name: str) -> int:
    return sink.status().counters[name]


def test_factory() -> None:
    assert create_server_sink(ServerSettings(enabled=False)) is None
    sink = create_server_sink(ServerSettings(host="127.0.0.1", port=0))
    assert isinstance(sink, ServerSink)
    sink.close(1.0)  # never started: nothing to stop, nothing leaks
    with pytest.raises(ValueError, match=r"server\.allow"):
        create_server_sink(ServerSettings(allow=("lan",)))


def test_port_in_use_fails_at_start(start_server: Start) -> None:
    running = start_server()
    second = ServerSink(ServerSettings(host="127.0.0.1", port=running.address[1]))
    with pytest.raises(OSError):
        second.start()
    second.close(1.0)


def test_latest_frame_is_sent_on_connect(start_server: Start, connect: Connect) -> None:
    sink = start_server()
    early = connect(sink.address)
    wait_for(connected(sink, 1))
    early.sock.settimeout(0.3)
    with pytest.raises(socket.timeout):  # nothing to show yet: nothing sent
        early.read_line()
    early.sock.settimeout(WAIT)
    sink.submit(historic_frame(1))
    sink.submit(historic_frame(2))
    assert [early.read_index(), early.read_index()] == [1, 2]
    late = connect(sink.address)
    assert late.read_index() == 2
    sink.submit(historic_frame(3))
    assert late.read_index() == 3 and early.read_index() == 3


def test_a_client_that_comes_ends_the_readers_rest(start_server: Start, connect: Connect) -> None:
    sink = start_server()
    hurried: list[bool] = []
    sink.on_hurry(lambda: hurried.append(True))
    assert sink.patience() == float("inf")  # no client: the frames may wait in the line
    client = connect(sink.address)
    wait_for(connected(sink, 1))
    assert hurried == [True]
    assert sink.patience() == 0
    client.sock.close()
    wait_for(lambda: sink.patience() == float("inf"))
    assert hurried == [True]


def test_hundred_clients_each_receive_every_frame_in_order(
    start_server: Start, connect: Connect
) -> None:
    sink = start_server(max_clients=100)
    clients = [connect(sink.address) for _ in range(100)]
    wait_for(connected(sink, 100))
    for index in range(50):
        sink.submit(historic_frame(index))
    for client in clients:
        assert [client.read_index() for _ in range(50)] == list(range(50))
    wait_for(lambda: counter(sink, "frames_sent") == 100 * 50)
    assert counter(sink, "frames") == 50
    assert counter(sink, "dropped_slow") == 0


def test_client_that_stops_reading_is_dropped_others_keep_up(
    start_server: Start, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    sink = start_server(client_buffer=32 * 1024)
    stuck = connect(sink.address, SO_RCVBUF=4096)
    readers = [connect(sink.address) for _ in range(3)]
    wait_for(connected(sink, 4))
    index = 0
    # Lock-step: every reader has frame n before frame n+1 exists, so none ever waits on `stuck`.
    while counter(sink, "dropped_slow") == 0:
        assert index < 20_000, "the stuck client was never dropped"
        sink.submit(historic_frame(index))
        for reader in readers:
            assert reader.read_index() == index
        index += 1
    for extra in range(index, index + 20):
        sink.submit(historic_frame(extra))
        for reader in readers:
            assert reader.read_index() == extra
    assert counter(sink, "clients") == 3
    assert "stopped reading" in caplog.text
    # What it had in its buffers, in order and whole, then the hang-up.
    indexes = stuck.indexes_until_end()
    assert indexes == list(range(len(indexes))) and len(indexes) < index
    assert counter(sink, "dropped_slow") == 1


def test_clients_sending_garbage_or_megabytes_are_ignored(
    start_server: Start, connect: Connect
) -> None:
    sink = start_server()
    reader = connect(sink.address)
    flooder = connect(sink.address)
    chatter = connect(sink.address)
    wait_for(connected(sink, 3))
    megabytes = random.Random(5).randbytes(8 * 1024 * 1024)
    flood = threading.Thread(target=flooder.sock.sendall, args=(megabytes,))
    flood.start()
    chatter_bytes = b'{"command": "stop"}\n\x00\xff garbage\r\n' * 100
    chatter.sock.sendall(chatter_bytes)
    for index in range(30):
        sink.submit(historic_frame(index))
        for client in (reader, flooder, chatter):
            assert client.read_index() == index
    flood.join(WAIT)
    assert not flood.is_alive()
    wait_for(lambda: counter(sink, "bytes_received") == len(megabytes) + len(chatter_bytes))
    assert counter(sink, "clients") == 3


def open_descriptors() -> int:
    """This process's open descriptors, once what earlier tests left for the garbage collector
    (sockets, pipes) is collected: else one closing meanwhile looks like a change."""
    gc.collect()
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc (Linux)")
def test_thousand_connect_disconnect_cycles_leak_no_descriptor(
    start_server: Start,
) -> None:
    sink = start_server()
    sink.submit(historic_frame(7))
    wait_for(lambda: counter(sink, "frames") == 1)
    before = open_descriptors()
    reset = struct.pack("ii", 1, 0)  # SO_LINGER 0: close with a reset, as a crashed client
    for cycle in range(1000):
        with socket.create_connection(sink.address, timeout=WAIT) as client:
            if cycle % 3 == 0:
                assert json.loads(client.recv(1024))["frame"]["BASE"] == "000000007"
            elif cycle % 3 == 1:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, reset)
    wait_for(lambda: counter(sink, "disconnects") == 1000)
    assert counter(sink, "connects") == 1000
    assert counter(sink, "clients") == 0
    # A leak would add hundreds; another test's thread closing its last socket meanwhile only
    # takes some away: wait for no more than before, rather than for exactly as many.
    wait_for(lambda: open_descriptors() <= before, what=f"back to {before} descriptors")


def test_max_clients_refused_politely(start_server: Start, connect: Connect) -> None:
    sink = start_server(max_clients=3)
    clients = [connect(sink.address) for _ in range(3)]
    wait_for(connected(sink, 3))
    refused = connect(sink.address)
    assert refused.read_message() == {"version": 1, "error": "too many clients", "max_clients": 3}
    assert refused.at_end()
    assert counter(sink, "refused") == 1
    clients[0].close()
    wait_for(connected(sink, 2))
    newcomer = connect(sink.address)
    wait_for(connected(sink, 3))
    sink.submit(historic_frame(42))
    for client in (*clients[1:], newcomer):
        assert client.read_index() == 42


def test_an_ipv4_mapped_allow_entry_lets_its_ipv4_clients_in(
    start_server: Start, connect: Connect
) -> None:
    sink = start_server(allow=("::ffff:127.0.0.0/104",))
    sink.submit(historic_frame(9))
    assert connect(sink.address).read_index() == 9
    assert counter(sink, "refused") == 0


def test_allow_list_refuses_other_networks(start_server: Start, connect: Connect) -> None:
    closed = start_server(allow=("10.0.0.0/8", "192.168.0.0/16"))
    refused = connect(closed.address)
    assert refused.read_message()["error"] == "address not allowed"
    assert refused.at_end()
    assert counter(closed, "refused") == 1
    opened = start_server(allow=("10.0.0.0/8", "127.0.0.0/8"))
    opened.submit(historic_frame(5))
    assert connect(opened.address).read_index() == 5


def ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_loopback_available(), reason="no IPv6 loopback here")
def test_dual_stack_listener_matches_mapped_ipv4_clients(
    start_server: Start, connect: Connect
) -> None:
    sink = start_server(host="::", allow=("127.0.0.0/8",))
    sink.submit(historic_frame(9))
    port = sink.address[1]
    assert connect(("127.0.0.1", port)).read_index() == 9  # seen as ::ffff:127.0.0.1
    assert connect(("::1", port)).read_message()["error"] == "address not allowed"


def test_close_flushes_pending_lines_then_hangs_up(start_server: Start, connect: Connect) -> None:
    sink = start_server(client_buffer=4 * 1024 * 1024)
    slow = connect(sink.address, SO_RCVBUF=4096)
    wait_for(connected(sink, 1))
    submit_paced(sink, range(2000))  # more than the kernel buffers hold: some wait in ours
    closing = threading.Thread(target=sink.close, args=(WAIT,))
    closing.start()
    assert [slow.read_index() for _ in range(2000)] == list(range(2000))
    assert slow.at_end()
    closing.join(WAIT)
    assert not closing.is_alive()
    sink.submit(historic_frame(2001))  # after close: ignored, no error
    assert counter(sink, "frames") == 2000


def test_close_gives_up_on_a_stuck_client(start_server: Start, connect: Connect) -> None:
    sink = start_server(client_buffer=4 * 1024 * 1024)
    stuck = connect(sink.address, SO_RCVBUF=4096)
    wait_for(connected(sink, 1))
    submit_paced(sink, range(2000))
    sink.close(0.2)
    assert counter(sink, "clients") == 0
    indexes = stuck.indexes_until_end()
    assert indexes == list(range(len(indexes))) and len(indexes) < 2000


def test_with_no_client_a_frame_wakes_nothing_and_the_next_client_gets_it_at_once(
    start_server: Start, connect: Connect
) -> None:
    sink = start_server()
    before = settled_sleeps("server")  # the server thread waits in its selector
    for index in range(50):
        sink.submit(historic_frame(index))
    assert sleeps("server") == before
    status = sink.status()
    assert status.backlog == 0 and status.counters["frames"] == 50 and status.progress == 50
    client = connect(sink.address)
    assert client.read_index() == 49  # the latest, as soon as it connects
    sink.submit(historic_frame(50))
    assert client.read_index() == 50
    client.close()
    wait_for(connected(sink, 0))
    sink.submit(historic_frame(51))  # nobody listens again: kept, not sent
    assert connect(sink.address).read_index() == 51


def test_submit_never_blocks_and_a_lagging_server_keeps_the_newest_frames(
    start_server: Start, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoding = threading.Event()
    resume = threading.Event()
    real_encoder = server_sink_module.frame_to_json_line

    def slow_encoder(frame: Frame) -> bytes:  # the server thread stuck on one frame
        encoding.set()
        resume.wait(WAIT)
        return real_encoder(frame)

    monkeypatch.setattr(server_sink_module, "frame_to_json_line", slow_encoder)
    sink = ServerSink(ServerSettings(host="127.0.0.1", port=0), handoff_limit=4)
    sink.start()
    try:
        client = connect(sink.address)
        wait_for(connected(sink, 1))
        sink.submit(historic_frame(0))
        assert encoding.wait(WAIT)
        for index in range(1, 11):  # none of these may wait for the server thread
            sink.submit(historic_frame(index))
        status = sink.status()
        assert status.backlog == 4 and status.counters["handoff_dropped"] == 6
        resume.set()
        assert [client.read_index() for _ in range(5)] == [0, 7, 8, 9, 10]
    finally:
        sink.close(1.0)


def test_status_counts_delivery(start_server: Start, connect: Connect) -> None:
    sink = start_server()
    client = connect(sink.address)
    wait_for(connected(sink, 1))
    sink.submit(historic_frame(1))
    line = client.read_line()
    wait_for(lambda: counter(sink, "bytes_sent") == len(line))
    status = sink.status()
    assert status.alive and status.backlog == 0 and status.progress == 1
    assert status.counters["frames_sent"] == 1 and status.counters["connects"] == 1


def teleinfomonitor_read(sock: socket.socket) -> dict:
    """What TeleInfoMonitor does with each frame: one 1024-byte read, one json.loads."""
    message = json.loads(sock.recv(1024))
    datetime.strptime(message["timestamp"], "%Y-%m-%d %H:%M:%S.%f")
    frame = message["frame"]
    for label in ("ADCO", "OPTARIF", "PTEC", "HHPHC", "MOTDETAT"):
        assert isinstance(frame.get(label, ""), str)
    for label in ("ISOUSC", "BASE", "IINST", "IMAX", "PAPP"):
        if label in frame:
            int(frame[label])
    return frame


def test_teleinfomonitor_style_client_decodes_every_historic_frame(
    start_server: Start,
) -> None:
    frames = [
        decode(encode_frame(groups, "historic"), received_at=datetime.now())[0]
        for groups in HISTORIC_SINGLE_PHASE.values()
    ]
    for path in sorted(DATA.glob("historic-*.bin")):
        frames += capture_frames(path.name)
    assert len(frames) > 15
    feed_teleinfomonitor(start_server(), frames)


@pytest.mark.skipif(not SHARED_CAPTURES.is_dir(), reason=f"{SHARED_CAPTURES} is not here")
def test_teleinfomonitor_style_client_decodes_every_shared_historic_capture(
    start_server: Start,
) -> None:
    """Captures whose licence keeps them out of the project, read where they lie."""
    frames = []
    for path in sorted(SHARED_CAPTURES.glob("historic-*.bin")):
        frames += decode(path.read_bytes(), received_at=datetime.now())
    assert len(frames) > 300
    feed_teleinfomonitor(start_server(), frames)


def feed_teleinfomonitor(sink: ServerSink, frames: list[Frame]) -> None:
    """One frame at a time, as a meter paces them: each line is read and checked first."""
    with socket.create_connection(sink.address, timeout=WAIT) as monitor:
        wait_for(connected(sink, 1))
        for frame in frames:
            sink.submit(frame)
            assert teleinfomonitor_read(monitor) == dict(frame)


def test_out_of_descriptors_pauses_accepting_then_recovers(
    start_server: Start, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    import resource

    sink = start_server()
    sink.submit(historic_frame(11))
    first = connect(sink.address)
    assert first.read_index() == 11
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with socket.socket() as starved:
        starved.settimeout(WAIT)
        # The lowest free descriptor is the starved socket's: below the limit, all are taken.
        resource.setrlimit(resource.RLIMIT_NOFILE, (starved.fileno() + 1, hard))
        try:
            starved.connect(sink.address)  # the kernel completes it; accept() gets EMFILE
            wait_for(lambda: "cannot accept a client" in caplog.text)
            sink.submit(historic_frame(12))
            assert first.read_index() == 12  # those already connected are still served
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        message = json.loads(starved.recv(1024))  # accepted once the pause is over
        assert message["frame"]["BASE"] == "000000012"
    assert counter(sink, "connects") == 2
