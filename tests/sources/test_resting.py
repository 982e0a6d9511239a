"""Resting between reads while no sink needs a frame at once: several frames a wake-up, each
with the time its last byte came, ended at once by a client (`hurry`), drained by a stop."""

from __future__ import annotations

import logging
import os
import threading
import time
import tty

import pytest
from source_helpers import (
    DecodingProtocol,
    PtyMeter,
    SourceThread,
    historic_frame,
    standard_frame,
    wait_for,
)

from teleinforeader.sources.frametimer import byte_seconds
from teleinforeader.sources.resting import MAX_REST, REST_BYTES, aged_pieces, rest_seconds
from teleinforeader.sources.serialport import SerialSource
from tests.support.threads import thread_sleeps

STANDARD_BYTE = byte_seconds(9600)
FAST = {"detect_timeout": 0.3, "backoff_initial": 0.05, "backoff_max": 0.2}


class PatientProtocol(DecodingProtocol):
    """A decoding protocol with the daemon's `patience`, noting when each chunk came and how
    old the source said its last byte was."""

    def __init__(self, mode: str, patience: float) -> None:
        super().__init__(mode)
        self.wait = patience
        self.calls: list[tuple[float, float, int]] = []  # (monotonic time, age, frames)

    def patience(self) -> float:
        return self.wait

    def data_received(self, data: bytes, age: float = 0.0) -> int:
        frames = super().data_received(data)
        with self.lock:
            self.calls.append((time.monotonic(), age, frames))
        return frames

    def arrivals(self) -> list[float]:
        """The monotonic time each frame's last byte came, as the source tells it."""
        with self.lock:
            return [at - age for at, age, frames in self.calls if frames]


class LineMeter(threading.Thread):
    """A meter on a pty that writes its frames at the line's pace, one after the other as a
    real line brings them (each written when its last byte would be in), noting when."""

    def __init__(self, frames: list[bytes], per_byte: float) -> None:
        super().__init__(daemon=True)
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.frames, self.per_byte = frames, per_byte
        self.written_at: list[float] = []
        self.go = threading.Event()

    def run(self) -> None:
        self.go.wait()
        due = time.monotonic()
        for frame in self.frames:
            due += len(frame) * self.per_byte
            time.sleep(max(due - time.monotonic(), 0))
            os.write(self.master, frame)
            self.written_at.append(time.monotonic())

    def close(self) -> None:
        self.join(30)
        os.close(self.master)
        os.close(self.slave)


def test_a_rest_is_cut_after_each_frame_with_the_bytes_that_followed() -> None:
    first, second = historic_frame(1), historic_frame(2)
    parity_etx = second[:-1] + b"\x83"  # ETX with its parity bit, as a port opened 8N1 gives
    data = first + parity_etx + b"\x02ADCO 0"  # and the start of a third
    pieces = aged_pieces(data, 0.01)
    assert [piece for piece, _ in pieces] == [first, parity_etx, b"\x02ADCO 0"]
    assert [age for _, age in pieces] == pytest.approx([(len(second) + 7) * 0.01, 7 * 0.01, 0.0])
    cut = b"\x02ADCO 0123\x04"  # EOT ends a frame too
    assert aged_pieces(cut + first, 0.01) == [(cut, pytest.approx(len(first) * 0.01)), (first, 0)]


def test_a_rest_is_bounded_by_the_line_and_by_max_rest() -> None:
    assert rest_seconds(0.0, STANDARD_BYTE) == 0.0
    assert rest_seconds(1.0, STANDARD_BYTE) == 1.0
    assert rest_seconds(float("inf"), STANDARD_BYTE) == pytest.approx(REST_BYTES * STANDARD_BYTE)
    assert rest_seconds(float("inf"), byte_seconds(1200)) == MAX_REST


def test_resting_takes_several_frames_a_wake_up_each_stamped_when_it_came() -> None:
    frames = [standard_frame(1_000 + n) for n in range(60)]
    checked = 40  # the line goes on meanwhile, as a meter's does
    meter = LineMeter(frames, STANDARD_BYTE)
    protocol = PatientProtocol("standard", patience=1.0)
    source = SerialSource(meter.path, mode="standard", **FAST)
    meter.start()
    try:
        with SourceThread(source, protocol) as running:
            wait_for(lambda: source.ready)
            reader = running.thread.native_id
            assert reader is not None
            before = thread_sleeps(reader)
            meter.go.set()
            wait_for(lambda: len(protocol.frames) >= checked, 30)
            woken = thread_sleeps(reader) - before
    finally:
        meter.close()
    east = [frame["EAST"] for frame in protocol.frames[:checked]]
    assert east == [f"{1_000 + n:09d}" for n in range(checked)]
    assert source.counters()["rests"] >= 2
    # The first frame locks the speed (read as it comes); then about 9 frames a rest.
    assert woken <= checked // 3, woken
    told = protocol.arrivals()[:checked]
    errors = [abs(arrival - written) for arrival, written in zip(told, meter.written_at)]
    # What the source tells is the line's timing, not the read's: a frame read up to a second
    # after it came is stamped back that long (the error left is the pty's, a few ms).
    assert max(errors) < 0.2, errors
    assert max(age for _, age, _ in protocol.calls) > 0.5


def test_a_client_that_comes_ends_the_rest_at_once() -> None:
    meter = PtyMeter(historic_frame, baud=None, period=0.3)
    protocol = PatientProtocol("historic", patience=60.0)  # a rest of MAX_REST
    source = SerialSource(meter.path, mode="historic", **FAST)
    try:
        with SourceThread(source, protocol):
            wait_for(lambda: protocol.frames, 10)  # locked: the next read rests
            time.sleep(1.0)
            resting = len(protocol.frames)
            protocol.wait = 0.0
            hurried = time.monotonic()
            source.hurry()
            wait_for(lambda: len(protocol.frames) > resting, 10)
            taken_after = time.monotonic() - hurried
            wait_for(lambda: protocol.calls[-1][1] == 0 and len(protocol.frames) > resting + 2)
    finally:
        meter.close()
    # The rest had more than three seconds to go: the frames came with the hurry, not after.
    assert taken_after < MAX_REST - 1.0, taken_after
    assert source.counters()["rests"] == 1


def test_a_stop_takes_what_the_line_holds_before_the_reader_ends() -> None:
    meter = PtyMeter(historic_frame, baud=None, period=0.2)
    protocol = PatientProtocol("historic", patience=60.0)
    source = SerialSource(meter.path, mode="historic", **FAST)
    try:
        with SourceThread(source, protocol) as running:
            wait_for(lambda: protocol.frames, 10)
            time.sleep(1.5)  # about seven frames wait in the line
            meter.sending.clear()
            time.sleep(0.3)
            source.stop()
            running.thread.join(10)
        sent = {frame["BASE"] for frame in protocol.frames}
    finally:
        meter.close()
    assert source.counters()["rests"] == 1
    assert len(protocol.frames) >= 7
    indexes = sorted(int(index) for index in sent)
    assert indexes == list(range(indexes[0], indexes[0] + len(indexes)))  # none left behind


def test_a_port_faster_than_its_speed_is_read_as_it_comes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A pty has no line speed: 50 frames a second would overflow a rest; after the first
    rest the source reads as the bytes come, and says why."""
    meter = PtyMeter(historic_frame, baud=None, period=0.02)
    protocol = PatientProtocol("historic", patience=60.0)
    source = SerialSource(meter.path, mode="historic", **FAST)
    caplog.set_level(logging.WARNING, "teleinforeader.sources.serialport")
    try:
        with SourceThread(source, protocol):
            wait_for(lambda: source.counters()["rests"] == 1, 15)
            rested = len(protocol.calls)
            wait_for(lambda: len(protocol.calls) > rested + 20, 10)
    finally:
        meter.close()
    assert source.counters()["rests"] == 1
    assert all(age == 0 for _, age, _ in protocol.calls[rested:])
    assert "more than 1200 baud allows" in caplog.text


def test_a_rest_in_which_the_line_said_nothing_is_not_a_lost_port() -> None:
    """A tty opened by pyserial reads 0 bytes when none wait, as a device that is gone does:
    a rest with nothing to take goes on resting."""
    meter = PtyMeter(standard_frame, baud=None, period=0.3)
    protocol = PatientProtocol("standard", patience=0.3)
    source = SerialSource(meter.path, mode="standard", **FAST)
    try:
        with SourceThread(source, protocol):
            wait_for(lambda: protocol.frames, 10)
            meter.sending.clear()
            time.sleep(1.5)  # several rests with nothing in the line
            meter.sending.set()
            again = len(protocol.frames)
            wait_for(lambda: len(protocol.frames) > again + 2, 10)
    finally:
        meter.close()
    counters = source.counters()
    assert counters["opens"] == 1 and counters["failures"] == 0, counters
    assert protocol.losses == [None]  # the stop, no lost port
