"""The frame timer: how long the reader sleeps before taking the rest of a frame in one read."""

from __future__ import annotations

import pytest
from source_helpers import historic_frame, standard_frame

from teleinforeader.sources.frametimer import (
    FRAME_GAP,
    LONGEST_SILENCE,
    MARGIN_BYTES,
    MARGIN_SECONDS,
    MAX_FRAME_SECONDS,
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
    """`timer` after a read that ended `frame`: it sleeps for the next one whole."""
    timer.seen(frame)
    return timer


def blocking(timer: FrameTimer, frame: bytes = FRAME) -> FrameTimer:
    """`timer` knowing `frame`'s length, on a line that pauses between frames: it blocks for
    each frame's first byte, then sleeps for its rest."""
    learnt(timer, frame).stalled()
    return timer


def test_before_a_frame_length_is_known_the_reader_blocks_until_the_next_byte() -> None:
    timer = FrameTimer(HISTORIC_BYTE)
    assert timer.pause() == 0
    timer.seen(b"garbage with no frame")
    assert timer.pause() == 0
    timer.seen(b"\x03")  # an ETX with no frame before it teaches no length
    assert timer.pause() == 0


def next_frame(length: int, per_byte: float) -> float:
    """The pause after an ETX: the next frame whole, after the shortest silence."""
    return pytest.approx(length * per_byte + FRAME_GAP)


@pytest.mark.parametrize("parity", [False, True])
def test_after_a_frame_it_sleeps_until_the_next_one_is_whole(parity: bool) -> None:
    timer = FrameTimer(HISTORIC_BYTE)
    timer.seen(with_parity(FRAME) if parity else FRAME)  # a whole frame in one read
    assert timer.pause() == next_frame(len(FRAME), HISTORIC_BYTE)
    timer.seen(FRAME + FRAME[:-10])  # late: the next frame began too, its rest is to come
    assert timer.pause() == due(10, HISTORIC_BYTE)
    timer.seen(FRAME[-10:])
    assert timer.pause() == next_frame(len(FRAME), HISTORIC_BYTE)
    standard = standard_frame()
    timer = learnt(FrameTimer(STANDARD_BYTE), standard)
    assert timer.pause() == next_frame(len(standard), STANDARD_BYTE)


def test_a_frame_found_open_by_that_sleep_ends_within_the_silences_spread() -> None:
    """That sleep ends a little earlier against the line each frame: the one that finds the
    frame open is early by the silences' spread at most, while the port may still hold back
    many of the frame's last bytes (a USB packet's 64), which all come with its end."""
    spread = LONGEST_SILENCE - FRAME_GAP
    cap = spread + MARGIN_BYTES * HISTORIC_BYTE + MARGIN_SECONDS
    timer = learnt(FrameTimer(HISTORIC_BYTE))
    timer.seen(FRAME[:-64])
    assert timer.pause() == pytest.approx(cap)
    assert cap < (64 + MARGIN_BYTES) * HISTORIC_BYTE + MARGIN_SECONDS
    timer.seen(FRAME[-64:-32])  # not done by then: a line pausing between frames, or slower
    assert timer.pause() == due(32, HISTORIC_BYTE)
    timer.seen(FRAME[-32:])
    assert timer.pause() == 0  # no more sleeping ahead: the line's timing cannot be foreseen
    timer.seen(FRAME[:-64])  # found open after blocking for its first byte: not early
    assert timer.pause() == due(64, HISTORIC_BYTE)


def test_a_frame_end_followed_by_more_bytes_is_not_a_frame_end() -> None:
    timer = learnt(FrameTimer(HISTORIC_BYTE))
    timer.seen(FRAME + FRAME[:1])  # the next frame began: its rest is due, as for any frame
    assert timer.pause() == due(len(FRAME) - 1, HISTORIC_BYTE)
    timer.seen(FRAME[1:] + b"\r")  # a stray byte after the ETX: nothing to foresee
    assert timer.pause() == 0


def test_a_sleep_for_the_next_frame_that_finds_none_stops_the_looking_ahead() -> None:
    """A line with pauses between its frames: blocking for each frame's first byte costs one
    wake-up more a frame, sleeping ahead would cost two and a frame's delay."""
    timer = learnt(FrameTimer(HISTORIC_BYTE))
    timer.stalled()  # the sleep for the next frame ended with nothing to read
    assert timer.pause() == 0
    timer.seen(FRAME)
    assert timer.pause() == 0
    timer.restart(HISTORIC_BYTE)  # the port was opened again: maybe another adapter
    timer.seen(FRAME)
    assert timer.pause() == next_frame(len(FRAME), HISTORIC_BYTE)
    timer.seen(FRAME[:10])
    timer.stalled()  # a frame cut short by an unplugged meter: no sign of gaps between frames
    timer.seen(FRAME)
    assert timer.pause() == next_frame(len(FRAME), HISTORIC_BYTE)


def test_a_port_faster_than_its_speed_is_not_slept_for() -> None:
    """A pty ignores the speed: a sleep for one frame brings several, and could overflow the
    tty's buffer if the writer is fast enough."""
    timer = learnt(FrameTimer(HISTORIC_BYTE))
    timer.seen(FRAME * 3)
    assert timer.pause() == 0
    timer.seen(FRAME)
    assert timer.pause() == 0


def test_the_sleep_for_the_next_frame_is_bounded() -> None:
    """A length learnt from noise at a wrong speed must not put the reader to sleep for long."""
    timer = learnt(FrameTimer(HISTORIC_BYTE), b"\x02" + b"x" * 4000 + b"\x03")
    assert timer.pause() == MAX_FRAME_SECONDS


@pytest.mark.parametrize("parity", [False, True])
def test_in_a_frame_it_sleeps_until_the_rest_is_due(parity: bool) -> None:
    timer = blocking(FrameTimer(HISTORIC_BYTE))
    first = FRAME[:10]
    timer.seen(with_parity(first) if parity else first)
    rest = len(FRAME) - 10
    assert timer.pause() == due(rest, HISTORIC_BYTE)
    timer.seen(FRAME[10:100])
    assert timer.pause() == due(rest - 90, HISTORIC_BYTE)
    timer.seen(FRAME[100:] + FRAME[:1])
    assert timer.pause() == due(len(FRAME) - 1, HISTORIC_BYTE)


def test_the_length_is_learnt_across_reads_and_from_the_last_frame_of_a_read() -> None:
    longer = historic_frame(1_000_001)[:-1] + b"\nADPS 045 1\r\x03"  # ends with one more group
    timer = FrameTimer(HISTORIC_BYTE)
    for start in range(0, len(longer), 7):
        timer.seen(longer[start : start + 7])
    timer.stalled()  # then blocked for the next frame's first byte
    timer.seen(b"\x02")
    assert timer.pause() == due(len(longer) - 1, HISTORIC_BYTE)
    timer.seen(FRAME[1:] + longer + FRAME[:1])  # the last complete frame sets the length
    assert timer.pause() == due(len(longer) - 1, HISTORIC_BYTE)


def test_a_frame_longer_than_the_last_gets_short_top_ups() -> None:
    timer = blocking(FrameTimer(HISTORIC_BYTE))
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
    timer = learnt(FrameTimer(HISTORIC_BYTE))
    timer.seen(FRAME[:30] + b"\x04")  # the meter cut a frame short: when the next comes is unknown
    assert timer.pause() == 0


def test_a_stall_or_a_new_speed_forgets_the_open_frame_and_a_new_speed_the_length() -> None:
    timer = blocking(FrameTimer(HISTORIC_BYTE))
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
    timer = blocking(FrameTimer(None), standard)
    timer.seen(b"\x02")
    assert timer.pause() == due(len(standard) - 1, STANDARD_BYTE)
    timer = blocking(FrameTimer(None), FRAME)
    timer.seen(b"\x02")
    assert timer.pause() == due(len(FRAME) - 1, HISTORIC_BYTE)
