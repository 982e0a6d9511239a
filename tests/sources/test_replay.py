"""The replay source: a capture file played through a real decoder, paced or as fast as possible."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from source_helpers import DecodingProtocol, SourceThread, historic_frame, wait_for

from teleinforeader.settings import SourceSettings
from teleinforeader.sources import create_source
from teleinforeader.sources.pacing import line_seconds, schedule
from teleinforeader.sources.replay import ReplaySource, guess_baud
from teleinforeader.tic import encode_frame


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    """Five frames, cut mid-frame at both ends as a real capture is."""
    frames = b"".join(historic_frame(1000 + n) for n in range(5))
    path = tmp_path / "capture.bin"
    path.write_bytes(b"\n0 ISOUSC 30 9\r\x03" + frames + b"\x02\nADCO 0217")
    return path


def test_fast_replay_delivers_every_frame_then_returns(capture: Path) -> None:
    protocol = DecodingProtocol()
    source = ReplaySource(capture, speed=0)
    source.run(protocol)  # returns by itself at the end of the file
    assert [frame["BASE"] for frame in protocol.frames] == [f"{1000 + n:09d}" for n in range(5)]
    assert protocol.decoder.stats.rejected_groups == 0
    assert b"".join(protocol.chunks) == capture.read_bytes()
    assert len(protocol.connections) == 1 and "replay of" in protocol.connections[0]
    assert protocol.losses == [None]
    assert source.counters() == {"bytes": capture.stat().st_size, "frames": 5, "passes": 1}
    assert not source.ready


def test_paced_chunks_are_small_like_a_serial_driver(capture: Path) -> None:
    protocol = DecodingProtocol()
    ReplaySource(capture, speed=1000).run(protocol)
    assert max(len(chunk) for chunk in protocol.chunks) == 16
    assert len(protocol.frames) == 5


def test_schedule_follows_the_line_pace() -> None:
    chunks = [b"x" * 16, b"x" * 16, b"x" * 8]
    at_1200 = [due for due, _ in schedule(chunks, 1200, 1.0)]
    assert at_1200 == pytest.approx([16 * 10 / 1200, 32 * 10 / 1200, 40 * 10 / 1200])
    assert [due for due, _ in schedule(chunks, 1200, 2.0)] == pytest.approx(
        [due / 2 for due in at_1200]
    )
    assert [due for due, _ in schedule(chunks, 9600, 1.0)] == pytest.approx(
        [due / 8 for due in at_1200]
    )
    assert [due for due, _ in schedule(chunks, 1200, 0)] == [0, 0, 0]
    assert line_seconds(152, 1200, 1.0) == pytest.approx(1.2667, abs=1e-3)


def test_paced_replay_takes_at_least_the_line_time(capture: Path) -> None:
    """Lower bound only: pacing waits; how much slower a busy machine is does not matter."""
    size = capture.stat().st_size
    speed = 40.0
    started = time.monotonic()
    ReplaySource(capture, speed=speed).run(DecodingProtocol())
    paced = time.monotonic() - started
    assert paced >= 0.95 * line_seconds(size, 1200, speed)


def test_loop_starts_again_until_stopped(capture: Path) -> None:
    protocol = DecodingProtocol()
    source = ReplaySource(capture, speed=0, loop=True)
    with SourceThread(source, protocol):
        wait_for(lambda: source.counters()["passes"] >= 3)
        assert source.ready
    assert protocol.losses == [None]
    # Every pass yields its five frames; the EOT between passes drops the frame cut at the
    # file's end instead of gluing it to the start into a frame of bad groups.
    passes = source.counters()["passes"]
    assert len(protocol.frames) >= 5 * passes
    assert protocol.decoder.stats.rejected_groups == 0
    assert protocol.decoder.stats.interrupted >= passes - 1
    assert b"".join(protocol.chunks).startswith(capture.read_bytes() + b"\x04")


def test_stop_interrupts_a_paced_wait_at_once(capture: Path) -> None:
    protocol = DecodingProtocol()
    source = ReplaySource(capture, speed=0.001)  # the first chunk is due in 133 s
    with SourceThread(source, protocol) as reader:
        wait_for(lambda: source.ready)
    assert not reader.thread.is_alive()
    assert protocol.chunks == []


def test_stopping_mid_file_closes_it(capture: Path) -> None:
    before = len(os.listdir("/proc/self/fd"))
    source = ReplaySource(capture, speed=0.01, chunk_size=1)
    protocol = DecodingProtocol()
    with SourceThread(source, protocol):
        wait_for(lambda: protocol.chunks)
    assert len(os.listdir("/proc/self/fd")) == before


def test_baud_is_guessed_from_the_capture(tmp_path: Path, capture: Path) -> None:
    standard = tmp_path / "standard.bin"
    standard.write_bytes(
        encode_frame([("ADSC", "041776123456"), ("VTIC", "02"), ("SINSTS", "00420")], "standard")
    )
    assert guess_baud(standard) == 9600
    assert guess_baud(capture) == 1200
    assert ReplaySource(standard).baud == 9600
    assert ReplaySource(capture, baud=9600).baud == 9600


def test_bad_settings_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"missing\.bin: No such file"):
        ReplaySource(tmp_path / "missing.bin")
    with pytest.raises(ValueError, match="not a regular file"):
        ReplaySource(tmp_path)
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        ReplaySource(empty, loop=True)
    with pytest.raises(ValueError, match="speed"):
        ReplaySource(empty, speed=-1)
    with pytest.raises(ValueError, match=r"source\.file"):
        create_source(SourceSettings(type="replay"))


def test_an_empty_file_played_once_just_ends(tmp_path: Path) -> None:
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    protocol = DecodingProtocol()
    ReplaySource(empty, speed=0).run(protocol)
    assert protocol.chunks == [] and protocol.losses == [None]


def test_create_source_builds_a_replay(capture: Path) -> None:
    source = create_source(SourceSettings(type="replay", file=str(capture), speed=0, loop=True))
    assert isinstance(source, ReplaySource)
    assert source.loop and source.speed == 0


def test_create_source_refuses_an_unknown_type() -> None:
    with pytest.raises(ValueError, match=r"source\.type: 'modem'"):
        create_source(SourceSettings(type="modem"))
