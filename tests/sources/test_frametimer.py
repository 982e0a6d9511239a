"""The frame timer: how long the reader sleeps before taking the rest of a frame in one read."""

from __future__ import annotations

import pytest
from source_helpers import historic_frame, standard_frame

from teleinforeader.sources.frametimer import (
    MARGIN_BYTES,
    MARGIN_SECONDS,
    MAX_PAUSE,
    MIN_TOPUP,
    TOPUP_BYTES,
    FrameTimer,
    byte_seconds,
)

HISTORIC_BYTE = byte_seconds(1200)
STANDARD_BYTE = byte_seconds(9600)
FRAME = historic_frame(1_000_000)


def with_parity(data: bytes) -> bytes:
    """The bytes as a port opened 8N1 delivers 7E1 characters: even parity in bit 7."""
    return bytes(byte | (bin(byte).count("1") % 2) << 7 for byte in data)


def due(rest: int, per_byte: float) -> float:
    """The pause for `rest` bytes still to come."""
    return pytest.approx((rest + MARGIN_BYTES) * per_byte + MARGIN_SECONDS)


def learnt(timer: FrameTimer, frame: bytes = FRAME) -> FrameTimer:
    timer.seen(frame)
    return timer


def test_between_frames_the_reader_blocks_until_the_next_byte() -> None:
    timer = FrameTimer(HISTORIC_BYTE)
    assert timer.pause() == 0
    timer.seen(b"garbage with no frame")
    assert timer.pause() == 0
    timer.seen(FRAME)  # a whole frame in one read
    assert timer.pause() == 0


@pytest.mark.parametrize("parity", [False, True])
def test_in_a_frame_it_sleeps_until_the_rest_is_due(parity: bool) -> None:
    timer = learnt(FrameTimer(HISTORIC_BYTE))
    first = FRAME[:10]
    timer.seen(with_parity(first) if parity else first)
    rest = len(FRAME) - 10
    assert timer.pause() == due(rest, HISTORIC_BYTE)
    timer.seen(FRAME[10:100])
    assert timer.pause() == due(rest - 90, HISTORIC_BYTE)
    timer.seen(FRAME[100:])
    assert timer.pause() == 0


def test_the_length_is_learnt_across_reads_and_from_the_last_frame_of_a_read() -> None:
    longer = historic_frame(1_000_001)[:-1] + b"\nADPS 045 1\r\x03"  # ends with one more group
    timer = FrameTimer(HISTORIC_BYTE)
    for start in range(0, len(longer), 7):
        timer.seen(longer[start : start + 7])
    timer.seen(b"\x02")
    assert timer.pause() == due(len(longer) - 1, HISTORIC_BYTE)
    timer.seen(FRAME[1:] + longer + FRAME[:1])  # the last complete frame sets the length
    assert timer.pause() == due(len(longer) - 1, HISTORIC_BYTE)


def test_a_frame_longer_than_the_last_gets_short_top_ups() -> None:
    timer = learnt(FrameTimer(HISTORIC_BYTE))
    timer.seen(FRAME[:-1])  # all but the ETX: one byte to come
    assert timer.pause() == due(1, HISTORIC_BYTE)
    timer.seen(b"ADPS 045 1\r")  # no ETX yet: the frame is longer, the rest overdue
    assert timer.pause() == pytest.approx(max(TOPUP_BYTES * HISTORIC_BYTE, MIN_TOPUP))
    timer.seen(b"\n")
    assert timer.pause() == pytest.approx(max(TOPUP_BYTES * HISTORIC_BYTE, MIN_TOPUP))


def test_with_no_length_known_each_look_waits_for_as_much_again() -> None:
    timer = FrameTimer(STANDARD_BYTE)
    timer.seen(b"\x02")
    assert timer.pause() == MIN_TOPUP
    timer.seen(b"x" * 99)
    assert timer.pause() == pytest.approx(100 * STANDARD_BYTE)
    timer.seen(b"x" * 5000)
    assert timer.pause() == MAX_PAUSE


def test_eot_ends_the_frame_without_teaching_a_length() -> None:
    timer = FrameTimer(HISTORIC_BYTE)
    timer.seen(FRAME[:30] + b"\x04")
    assert timer.pause() == 0
    timer.seen(b"\x02")
    assert timer.pause() == MIN_TOPUP  # still no length: only an ETX teaches one


def test_a_stall_or_a_new_speed_forgets_the_open_frame_and_a_new_speed_the_length() -> None:
    timer = learnt(FrameTimer(HISTORIC_BYTE))
    timer.seen(b"\x02")
    timer.stalled()
    assert timer.pause() == 0
    timer.restart(HISTORIC_BYTE)  # reopened at the same speed: the same meter
    timer.seen(b"\x02")
    assert timer.pause() > MIN_TOPUP
    timer.restart(STANDARD_BYTE)
    timer.seen(b"\x02")
    assert timer.pause() == MIN_TOPUP


def test_far_end_speed_is_guessed_from_the_frames() -> None:
    standard = standard_frame()
    timer = learnt(FrameTimer(None), standard)
    timer.seen(b"\x02")
    assert timer.pause() == due(len(standard) - 1, STANDARD_BYTE)
    timer = learnt(FrameTimer(None), FRAME)
    timer.seen(b"\x02")
    assert timer.pause() == due(len(FRAME) - 1, HISTORIC_BYTE)
