"""The spool survives crashes and a full or unusable disk without losing what it can keep."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from teleinforeader.settings import DatabaseSettings
from teleinforeader.sinks.database.spool import Spool
from teleinforeader.sinks.database.sqlite import SQLiteBackend
from teleinforeader.sinks.database.writer import DatabaseSink
from tests.storage.helpers import make_frames
from tests.support.waiting import wait_for

RECORDS = [{"t": "teleinfoframes", "v": {"n": n, "text": "it's"}} for n in range(5)]


def _reopened(directory: Path, records: list[dict[str, object]], tail: bytes) -> Spool:
    """A spool holding `records` then the raw bytes `tail`, opened as after a restart."""
    path = directory / "spool.jsonl"
    first = Spool(path)
    first.append(records)
    first.close()
    with path.open("ab") as file:
        file.write(tail)
    return Spool(path)


def test_records_come_back_in_order_and_release_empties_the_file(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.jsonl")
    spool.append(RECORDS[:3])
    spool.append(RECORDS[3:])
    first, offset = spool.read(2)
    assert first == RECORDS[:2]
    spool.release(offset)
    rest, offset = spool.read(10)
    assert rest == RECORDS[2:]
    assert spool.pending == 3
    spool.release(offset)
    assert spool.pending == 0
    assert (tmp_path / "spool.jsonl").stat().st_size == 0


def test_a_record_cut_by_a_crash_is_dropped_with_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):  # the crash came mid-record:
        spool = _reopened(tmp_path, RECORDS[:2], b'{"t":"teleinfoframes","v":{"n":')
    assert "half-written" in caplog.text
    assert spool.pending == 2
    spool.append(RECORDS[2:3])  # appends after a clean line end
    records, _ = spool.read(10)
    assert records == RECORDS[:3]
    assert spool.corrupt == 1


def test_a_damaged_line_is_skipped_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = _reopened(tmp_path, RECORDS[:1], b"\x00\x00garbage\n")
    spool.append(RECORDS[1:2])
    records, _ = spool.read(10)
    assert records == RECORDS[:2]
    assert spool.corrupt == 1
    assert "damaged record" in caplog.text


def test_a_full_disk_fails_the_append_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "spool.jsonl"
    path.symlink_to("/dev/full")
    spool = Spool(path)
    with pytest.raises(OSError):
        spool.append(RECORDS)
    assert spool.pending == 0


def _down_sqlite_sink(state_directory: Path, database: Path) -> DatabaseSink:
    database.mkdir(parents=True)  # a directory where the file should be: SQLite cannot open it
    settings = DatabaseSettings(store_interval=0, flush_interval=0.05, memory_backlog=2)
    return DatabaseSink(
        SQLiteBackend(database), settings, state_directory, reconnect_delay=0.05,
        reconnect_max_delay=0.1,
    )  # fmt: skip


def test_when_the_spool_cannot_be_written_frames_wait_in_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    database = tmp_path / "db" / "frames.sqlite3"
    sink = _down_sqlite_sink(state, database)
    Path(sink.spool_path).symlink_to("/dev/full")
    sink.start()
    frames = make_frames("historic-base", 10)
    for frame in frames:
        sink.submit(frame)
    wait_for(lambda: sink.status().counters.get("spool_errors", 0) >= 2, what="spool errors")
    status = sink.status()
    assert status.alive
    assert status.backlog == 10  # all still held, beyond the bound of 2
    assert caplog.text.count("cannot write the spool") == 1  # once, not once per attempt

    Path(sink.spool_path).unlink()  # the disk has room again
    wait_for(lambda: sink.status().counters.get("spooled", 0) == 8, what="spooling")
    os.rmdir(database)  # and the database can be created
    wait_for(lambda: sink.status().counters.get("rows_written") == 10, what="rows")
    sink.close(5)
    assert sink.status().backlog == 0
