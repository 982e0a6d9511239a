"""Captures made through a cooked tty (`stty ... sane; cat /dev/ttyAMA0 > capture`) replay.

The tty turned every CR into LF and dropped ETX (and EOT): the replay source recovers each group
from its line and each frame from STX to STX, the decoder checks every checksum and format, and
nothing is ever made up. The captures are recorded here through a real pty with the real `stty`
and `cat`, from real captures whose raw bytes are known; and one capture made that way by a user
of another project is read from ../shared.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from source_helpers import DecodingProtocol

from teleinforeader.sources.cooked import is_cooked
from teleinforeader.sources.replay import ReplaySource
from teleinforeader.tic import decode
from tests.fuzz.campaign import assert_sound
from tests.support.cooked_tty import record_through_cooked_tty

DATA = Path(__file__).resolve().parents[1] / "data"
SHARED_CAPTURES = Path(__file__).resolve().parents[2].parent / "shared" / "captures"
CLEAN = [
    "historic-tempo-pyteleinfo-captured_frames.bin",  # ten whole frames, STX to ETX
    "standard-mono-enedis-TIC2WebSocket.bin",  # one frame
    "standard-tri-tempo-teleinfo-nom-stream_standard_complete.bin",  # mid-frame start and end
]
NOISY = "standard-tri-tempo-noisy-teleinfo-nom-stream_standard_raw.bin"
PBOETTCH = "historic-hchp-pboettch-teleinfo-c-dump-head.bin"


def replay(path: Path, loop: bool = False) -> DecodingProtocol:
    protocol = DecodingProtocol()
    ReplaySource(path, speed=0, loop=loop).run(protocol)
    return protocol


def cooked_copy(tmp_path: Path, name: str) -> tuple[bytes, Path]:
    """The capture twice over (a one-frame capture has a frame to close) and its cooked copy."""
    raw = (DATA / name).read_bytes() * 2
    cooked = record_through_cooked_tty(raw)
    assert b"\r" not in cooked and b"\x03" not in cooked and b"\x02" in cooked
    path = tmp_path / "capture"
    path.write_bytes(cooked)
    return raw, path


@pytest.mark.parametrize("name", CLEAN)
def test_a_capture_through_a_cooked_tty_replays_as_the_raw_one(tmp_path: Path, name: str) -> None:
    raw, path = cooked_copy(tmp_path, name)
    assert decode(path.read_bytes()) == []  # the plain decoder finds no frame in it
    protocol = replay(path)
    frames = protocol.frames
    # Every frame a later STX closes, as in the raw capture. The last frame's ETX was lost with
    # the others and nothing follows it: nothing tells it whole from one the meter cut short,
    # so it is counted (interrupted), not published.
    expected = decode(raw[: raw.rindex(b"\x02")])
    assert len(expected) >= 1
    assert [dict(frame) for frame in frames] == [dict(frame) for frame in expected]
    assert [frame.raw_horodates for frame in frames] == [f.raw_horodates for f in expected]
    assert protocol.decoder.stats.interrupted == 1
    assert protocol.decoder.stats.rejected_groups == sum(len(f.rejected) for f in expected)


def test_noise_in_a_cooked_capture_costs_only_the_damaged_groups(tmp_path: Path) -> None:
    raw, path = cooked_copy(tmp_path, NOISY)
    protocol = replay(path)
    frames = protocol.frames
    assert_sound(raw, frames)  # every group as the meter sent it, every frame from one frame
    expected = decode(raw[: raw.rindex(b"\x02")])
    assert [dict(frame) for frame in frames] == [dict(frame) for frame in expected]
    # The same groups are lost (a CR hit by noise leaves its group on a line of its own, whose
    # refusal is "charset" here rather than "malformed"), and every one is counted.
    refused = protocol.decoder.stats.rejected_groups
    assert refused == sum(len(frame.rejected) for frame in expected) >= 10


def test_a_looping_replay_of_a_cooked_capture_gives_the_frames_every_pass(tmp_path: Path) -> None:
    _, path = cooked_copy(tmp_path, CLEAN[0])
    once = [dict(frame) for frame in replay(path).frames]
    protocol = DecodingProtocol()
    source = ReplaySource(path, speed=0, loop=True)

    def stop_after_three_passes(data: bytes, feed=protocol.data_received) -> int:
        count = feed(data)
        if len(protocol.frames) >= 3 * len(once):
            source.stop()
        return count

    protocol.data_received = stop_after_three_passes  # type: ignore[method-assign]
    source.run(protocol)
    assert [dict(frame) for frame in protocol.frames[: 3 * len(once)]] == once * 3


def test_raw_captures_are_not_taken_for_cooked_ones() -> None:
    for path in DATA.glob("*.bin"):
        assert not is_cooked(path.read_bytes()), path.name


def test_a_real_users_cooked_capture_replays_with_every_checksum_good() -> None:
    path = SHARED_CAPTURES / PBOETTCH
    if not path.exists():
        pytest.skip(f"{PBOETTCH} is not redistributable and {SHARED_CAPTURES} is absent")
    data = path.read_bytes()
    assert is_cooked(data)
    protocol = replay(path)
    frames = protocol.frames
    stats = protocol.decoder.stats
    # 700 STX: 699 frames closed by the next one, the last one counted as cut; the bytes
    # before the first STX (a frame begun before the capture) skipped.
    assert len(frames) == 699
    assert stats.interrupted == 1 and stats.truncated == 0
    assert stats.rejected_groups == 0  # SOURCES.md: every group of this file passes
    # Every line from the first STX to the last is a group of a published frame.
    lines = data[data.index(b"\x02") : data.rindex(b"\x02")].split(b"\n")
    assert sum(len(frame) for frame in frames) == sum(1 for line in lines if line.strip(b"\x02"))
    # Frames the meter cut after HHPHC (the tty ate their EOT) keep what they had.
    assert {len(frame) for frame in frames} == {10, 11}
    assert frames[0]["ADCO"] == "020322245189" and frames[0]["HCHP"] == "089324084"
    assert all(frame["OPTARIF"] == "HC.." for frame in frames)
