"""The --print sink through a real pipe: the socket server's lines, in order, none lost on close."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from teleinforeader.jsonline import frame_to_json_line
from teleinforeader.sinks.printer import PrinterSink
from teleinforeader.tic import Frame, decode
from tests.daemon.daemon_helpers import historic_frame
from tests.support.waiting import wait_for

F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read_end, write_end = os.pipe()
    yield read_end, write_end
    for fd in (read_end, write_end):
        with contextlib.suppress(OSError):
            os.close(fd)


def read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def frames(count: int) -> list[Frame]:
    received_at = datetime.now(timezone.utc)
    return [decode(historic_frame(1_000_000 + n), received_at=received_at)[0] for n in range(count)]


def test_every_frame_becomes_the_socket_servers_line_in_order(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    printed = frames(20)
    with open(write_end, "wb", closefd=False) as stream:
        sink = PrinterSink(stream)
        sink.start()
        for frame in printed:
            sink.submit(frame)
        sink.close(5)
    os.close(write_end)
    output = read_all(read_end)
    assert output == b"".join(frame_to_json_line(frame) for frame in printed)
    assert [json.loads(line)["frame"]["BASE"] for line in output.splitlines()][-1] == "001000019"
    assert sink.status().counters == {"written": 20, "dropped": 0}


def test_a_line_is_flushed_as_soon_as_its_frame_arrives(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    with open(write_end, "wb", closefd=False) as stream:
        sink = PrinterSink(stream)
        sink.start()
        sink.submit(frames(1)[0])
        line = os.read(read_end, 65536)  # blocks until the sink flushes
        assert line.endswith(b"\n")
        assert json.loads(line)["meter"] == "021728123456"
        sink.close(5)


def test_a_reader_that_does_not_keep_up_loses_lines_beyond_the_capacity_counted(
    pipe: tuple[int, int],
) -> None:
    read_end, write_end = pipe
    fcntl.fcntl(write_end, F_SETPIPE_SZ, 4096)  # a few lines fill it
    submitted = frames(200)
    with open(write_end, "wb", closefd=False) as stream:
        sink = PrinterSink(stream, capacity=5)
        sink.start()
        for frame in submitted:
            sink.submit(frame)  # never blocks, even with the pipe full
        status = sink.status()
        assert status.counters["dropped"] > 0
        assert status.alive
        output = []
        drain = threading.Thread(target=lambda: output.append(read_all(read_end)))
        drain.start()
        sink.close(5)
    os.close(write_end)
    drain.join(5)
    lines = output[0].splitlines()
    counters = sink.status().counters
    assert counters["written"] == len(lines)
    assert counters["written"] + counters["dropped"] == len(submitted)
    wait_for(lambda: not drain.is_alive())


def test_a_closed_stdout_stops_the_sink_visibly_without_a_traceback(
    pipe: tuple[int, int], caplog: pytest.LogCaptureFixture
) -> None:
    read_end, write_end = pipe
    os.close(read_end)  # `| head` has exited
    with open(write_end, "wb", buffering=0, closefd=False) as stream:
        sink = PrinterSink(stream)
        sink.start()
        sink.submit(frames(1)[0])
        wait_for(lambda: not sink.status().alive)  # the daemon stops on a dead sink
        sink.close(1)
    assert "stdout was closed" in caplog.text
    assert all(record.exc_info is None for record in caplog.records)


def test_closing_a_sink_whose_stdout_was_closed_does_not_wait(
    pipe: tuple[int, int], caplog: pytest.LogCaptureFixture
) -> None:
    read_end, write_end = pipe
    os.close(read_end)
    with open(write_end, "wb", buffering=0, closefd=False) as stream:
        sink = PrinterSink(stream, capacity=3)
        sink.start()
        for frame in frames(10):
            sink.submit(frame)
        wait_for(lambda: not sink.status().alive)
        closing = threading.Thread(target=sink.close, args=(60,))
        closing.start()
        closing.join(5)  # a full queue and a dead writer: nothing to wait for
        assert not closing.is_alive()
    assert "lines were not written to stdout" in caplog.text
