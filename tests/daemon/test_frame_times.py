"""Every frame gets its own, strictly increasing receive time: the time is part of the database
key, so frames decoded from one chunk must not share it, or all but one row is ignored."""

from __future__ import annotations

import logging
import re
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from teleinforeader.daemon import ArrivalClock, ReaderPipeline
from teleinforeader.tic import Decoder, Frame
from tests.daemon.daemon_helpers import steady_line
from tests.faults.fault_helpers import daemon_environment
from tests.support.captures import write_capture

MICROSECOND = timedelta(microseconds=1)
NOON = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


def frames(count: int) -> list[Frame]:
    return Decoder().feed(b"".join(steady_line(count)))


def assert_strictly_increasing(times: list[datetime]) -> None:
    assert all(earlier < later for earlier, later in zip(times, times[1:])), times


def test_frames_of_one_chunk_get_distinct_increasing_utc_times() -> None:
    stamped: list[Frame] = []
    protocol = ReaderPipeline(Decoder(), stamped.extend)
    line = steady_line(12)
    before = datetime.now(timezone.utc)
    protocol.data_received(b"".join(line[:5]))  # a reader that fell behind
    protocol.data_received(line[5])
    protocol.data_received(b"".join(line[6:]))
    times = [frame.received_at for frame in stamped]
    assert [frame["BASE"] for frame in stamped] == [f"{1_000_000 + n:09d}" for n in range(12)]
    assert_strictly_increasing(times)
    assert all(time.tzinfo is timezone.utc for time in times)
    assert before <= times[0] and times[-1] <= datetime.now(timezone.utc)


def test_the_last_frame_of_a_chunk_gets_the_time_it_was_read_the_earlier_ones_before() -> None:
    clock = ArrivalClock()
    chunk = frames(3)
    clock.stamp(chunk, NOON)
    assert [frame.received_at for frame in chunk] == [
        NOON - 2 * MICROSECOND,
        NOON - MICROSECOND,
        NOON,
    ]
    later = frames(1)
    clock.stamp(later, NOON + timedelta(seconds=1))
    assert later[0].received_at == NOON + timedelta(seconds=1)  # the clock again, not a tick


def test_chunks_read_within_the_same_microsecond_still_get_increasing_times() -> None:
    clock = ArrivalClock()
    stamped = []
    for _ in range(4):
        chunk = frames(2)
        clock.stamp(chunk, NOON)  # a coarse clock, or a very fast replay
        stamped += chunk
    assert_strictly_increasing([frame.received_at for frame in stamped])


def test_a_clock_stepping_back_still_gives_increasing_times_and_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ArrivalClock()
    readings = [NOON, NOON + timedelta(seconds=2)]
    readings += [NOON - timedelta(hours=1) + timedelta(seconds=n) for n in range(3)]  # NTP step
    readings += [NOON + timedelta(seconds=3), NOON + timedelta(seconds=4)]  # caught up
    readings += [NOON - timedelta(seconds=30)]  # a second step back
    stamped = []
    with caplog.at_level(logging.WARNING, logger="teleinforeader.daemon"):
        for now in readings:
            chunk = frames(2)
            clock.stamp(chunk, now)
            stamped += chunk
    times = [frame.received_at for frame in stamped]
    assert_strictly_increasing(times)
    assert times[-3] == NOON + timedelta(seconds=4)  # back on the wall clock once it caught up
    steps = [r.getMessage() for r in caplog.records if "wall clock went back" in r.getMessage()]
    assert len(steps) == 2, steps
    assert "went back 3602.0 s" in steps[0]


def test_a_full_speed_replay_stores_one_row_per_frame_decoded(tmp_path: Path) -> None:
    """5,000 frames at speed 0 used to come out of big chunks sharing a time: 186 rows."""
    capture = tmp_path / "capture.bin"
    count = len(write_capture(capture, 2000))
    config = tmp_path / "teleinforeader.toml"
    config.write_text(
        f'[source]\ntype = "replay"\nfile = "{capture}"\nspeed = 0\n'
        '[database]\nbackend = "sqlite"\nstore_interval = 0\n'
        "[server]\nenabled = false\n[http]\nenabled = false\n"
        f'[daemon]\nstate_directory = "{tmp_path / "state"}"\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "teleinforeader", "--config", str(config)],
        capture_output=True,
        env=daemon_environment(),
        timeout=120,
        check=False,
    )
    log = result.stderr.decode()
    assert result.returncode == 0, log
    stopped = re.search(r"stopped: frames=(\d+) .*rows_written=(\d+)", log)
    assert stopped, log
    assert int(stopped[1]) == count
    database = sqlite3.connect(tmp_path / "state" / "teleinforeader.sqlite3")
    try:
        [(rows, distinct)] = database.execute(
            'SELECT COUNT(*), COUNT(DISTINCT "timestamp") FROM teleinfoframes'
        ).fetchall()
    finally:
        database.close()
    assert rows == distinct == count
    assert int(stopped[2]) == count
    assert "duplicates_ignored" not in log
