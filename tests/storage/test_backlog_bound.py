"""A database connected but slower than the input: memory stays within `memory_backlog`, the
rest waits in the spool, and once the writer catches up every frame is stored once, in order.
A replay faster than the writer and the spool together waits for them."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from teleinforeader.daemon import Daemon
from teleinforeader.settings import DatabaseSettings
from teleinforeader.sinks.database.schema import HISTORIC_TABLE, STANDARD_TABLE, format_timestamp
from teleinforeader.sinks.database.sqlite import SQLiteBackend
from teleinforeader.sinks.database.writer import DatabaseSink
from teleinforeader.sources.replay import ReplaySource
from teleinforeader.tic import Frame
from tests.storage.helpers import Storage, caught_up_sink, make_frames
from tests.support.captures import write_capture
from tests.support.mariadb_server import MariaDBServer
from tests.support.waiting import wait_for

BOUND = 20
SLOW = {"store_interval": 0, "flush_interval": 0.05, "batch_size": 10, "memory_backlog": BOUND}


class GatedConnection:
    """A real SQLite connection whose commit waits at its backend's gate."""

    def __init__(self, connection: sqlite3.Connection, backend: GatedSQLiteBackend) -> None:
        self._connection = connection
        self._backend = backend

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)

    def commit(self) -> None:
        backend = self._backend
        backend.waiting.set()
        backend.gate.wait()
        if backend.fail_commits:
            raise sqlite3.OperationalError("disk I/O error")
        self._connection.commit()


class GatedSQLiteBackend(SQLiteBackend):
    """The real SQLite backend made as slow as a test wants: commits wait while the gate is
    closed, and fail (as a database going away) while `fail_commits` is set."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.gate = threading.Event()
        self.gate.set()
        self.waiting = threading.Event()  # a commit reached the gate
        self.fail_commits = False

    def connect(self, create: bool = True) -> Any:
        return GatedConnection(super().connect(create), self)

    def close_gate(self) -> None:
        self.waiting.clear()
        self.gate.clear()


@pytest.fixture
def gated(tmp_path: Path) -> Iterator[tuple[GatedSQLiteBackend, DatabaseSink]]:
    backend = GatedSQLiteBackend(tmp_path / "frames.sqlite3")
    settings = DatabaseSettings(reader="pi-test", **SLOW)
    sink = DatabaseSink(backend, settings, tmp_path / "state", reconnect_delay=0.05)
    yield backend, sink  # not started: a test may prepare the state directory first
    backend.fail_commits = False
    backend.gate.set()
    sink.close(5)


def _stored_in_insertion_order(backend: SQLiteBackend) -> list[str]:
    connection = sqlite3.connect(str(backend.path))
    try:
        rows = connection.execute(f"SELECT timestamp FROM {HISTORIC_TABLE.name} ORDER BY rowid")
        return [row[0] for row in rows]
    finally:
        connection.close()


def _timestamps(frames: list[Frame]) -> list[str]:
    return [format_timestamp(frame.received_at) for frame in frames]


def _submit_while_stuck(backend: GatedSQLiteBackend, sink: DatabaseSink, frames: list[Frame]):
    """The writer stuck in a commit (connected), and `frames` submitted meanwhile."""
    wait_for(lambda: sink.status().counters["connections"] == 1, what="the connection")
    backend.close_gate()
    sink.submit(frames[0])
    assert backend.waiting.wait(10), "the writer never reached the commit"
    for frame in frames[1:]:
        sink.submit(frame)
    wait_for(lambda: sink.status().counters["in_memory"] <= BOUND, what="memory within bound")
    status = sink.status()
    assert status.backlog == len(frames)
    assert status.counters["connections"] == 1 and status.counters["write_errors"] == 0
    # Everything beyond the bound is in the spool, with a copy of the batch in flight ahead.
    spooled = Path(sink.spool_path).read_bytes().count(b"\n")
    assert spooled == len(frames) - status.counters["in_memory"]
    assert status.counters["spooled"] == spooled
    return status


def test_a_writer_slower_than_the_input_keeps_memory_bounded_and_the_order(gated) -> None:
    backend, sink = gated
    sink.start()
    frames = make_frames("historic-base", 250)
    for frame in frames[:10]:
        sink.submit(frame)
    wait_for(lambda: sink.status().counters["rows_written"] == 10, what="first rows")

    _submit_while_stuck(backend, sink, frames[10:])
    assert sink.status().counters["rows_written"] == 10  # still stuck: nothing overtook

    backend.gate.set()  # the writer catches up: the batch in flight, the spool, then memory
    wait_for(lambda: sink.status().backlog == 0, what="the backlog to drain")
    sink.close(5)
    assert _stored_in_insertion_order(backend) == _timestamps(frames)
    # The copy of the committed batch was forgotten, not sent again.
    assert sink.status().counters["replayed"] == sink.status().counters["spooled"] - 1
    assert Path(sink.spool_path).stat().st_size == 0


def test_a_batch_that_fails_after_frames_overflowed_is_replayed_first(gated) -> None:
    backend, sink = gated
    sink.start()
    frames = make_frames("historic-hchp", 120)
    _submit_while_stuck(backend, sink, frames)

    backend.fail_commits = True  # the stuck commit fails: the database went away
    backend.gate.set()
    wait_for(lambda: sink.status().counters["write_errors"] >= 1, what="the failed commit")
    backend.fail_commits = False
    wait_for(lambda: sink.status().backlog == 0, what="the backlog to drain")
    sink.close(5)
    assert _stored_in_insertion_order(backend) == _timestamps(frames)
    assert sink.status().counters["reconnects"] >= 1


def test_frames_beyond_the_bound_wait_in_memory_when_the_spool_cannot_be_written(
    gated, caplog: pytest.LogCaptureFixture
) -> None:
    backend, sink = gated
    Path(sink.spool_path).parent.mkdir(parents=True, exist_ok=True)
    Path(sink.spool_path).symlink_to("/dev/full")
    sink.start()
    wait_for(lambda: sink.status().counters["connections"] == 1, what="the connection")
    frames = make_frames("historic-base", 60)
    backend.close_gate()
    for frame in frames:
        sink.submit(frame)
    wait_for(lambda: sink.status().counters["spool_errors"] >= 2, what="spool errors")
    status = sink.status()
    assert status.alive and status.backlog == 60
    assert status.counters["in_memory"] > BOUND  # beyond the bound: nowhere else to go
    assert caplog.text.count("cannot write the spool") == 1

    backend.gate.set()
    wait_for(lambda: sink.status().backlog == 0, what="the backlog to drain")
    sink.close(5)
    assert _stored_in_insertion_order(backend) == _timestamps(frames)


@pytest.mark.mariadb
@pytest.mark.parametrize("storage", ["mariadb"], indirect=True)
def test_a_paused_server_keeps_memory_bounded_and_loses_nothing(
    storage: Storage, mariadb_server: MariaDBServer
) -> None:
    frames = make_frames("standard-mono", 200)
    sink = caught_up_sink(storage, frames[:10], **SLOW)
    mariadb_server.pause()  # connected, and a statement hangs
    try:
        for frame in frames[10:]:
            sink.submit(frame)
        wait_for(lambda: sink.status().counters["in_memory"] <= BOUND, what="memory in bound")
        status = sink.status()
        assert status.backlog == 190
        assert status.counters["spooled"] >= 190 - BOUND
        assert Path(sink.spool_path).read_bytes().count(b"\n") >= 190 - BOUND
    finally:
        mariadb_server.resume()
    wait_for(lambda: sink.status().backlog == 0, what="the backlog to drain")
    sink.close(5)
    rows = storage.query(f"SELECT timestamp FROM {STANDARD_TABLE.name} ORDER BY timestamp")
    assert [row[0] for row in rows] == _timestamps(frames)
    assert sink.status().counters["connect_errors"] == 0


def test_a_sink_over_its_bound_has_no_room_until_frames_leave_memory(gated) -> None:
    backend, sink = gated
    Path(sink.spool_path).parent.mkdir(parents=True, exist_ok=True)
    Path(sink.spool_path).symlink_to("/dev/full")  # nowhere but memory
    sink.start()
    wait_for(lambda: sink.status().counters["connections"] == 1, what="the connection")
    assert sink.wait_for_room(0)
    backend.close_gate()
    for frame in make_frames("historic-base", BOUND + SLOW["batch_size"] + 20):
        sink.submit(frame)
    assert not sink.wait_for_room(0.2)
    backend.gate.set()
    assert sink.wait_for_room(10)


def test_a_replay_at_full_speed_waits_for_the_database_and_every_frame_is_stored(
    gated, tmp_path: Path
) -> None:
    """The replay, the writer and the spool share one interpreter: without the wait, a replay
    at full speed piled every frame into memory (hundreds of MB for a day's capture)."""
    backend, sink = gated
    Path(sink.spool_path).parent.mkdir(parents=True, exist_ok=True)
    Path(sink.spool_path).symlink_to("/dev/full")  # the spool cannot take the excess either
    capture = tmp_path / "capture.bin"
    indexes = write_capture(capture, 600)
    backend.close_gate()  # the writer is stuck in its first commit (the schema's)
    daemon = Daemon(ReplaySource(capture, speed=0), [sink])  # it starts the sink
    running = threading.Thread(target=daemon.run, daemon=True)
    running.start()
    try:
        wait_for(lambda: sink.status().counters["spool_errors"] >= 1, what="the spool refused")
        limit = BOUND + SLOW["batch_size"]
        wait_for(lambda: sink.status().counters["in_memory"] > limit, what="memory over the bound")
        accepted = sink.status().counters["accepted"]
        time.sleep(0.5)  # nothing leaves memory meanwhile: nothing more comes in
        assert sink.status().counters["accepted"] == accepted
        assert accepted < len(indexes)  # the replay waits: one chunk past the bound at most
        backend.gate.set()
        wait_for(lambda: sink.status().counters["accepted"] == len(indexes), what="the replay")
        wait_for(lambda: sink.status().backlog == 0, what="every frame written")
    finally:
        backend.gate.set()
        daemon.request_stop("test")
        running.join(15)
    connection = sqlite3.connect(str(backend.path))
    try:
        stored = [
            row[0]
            for row in connection.execute(
                f"SELECT total_base_index_in_wh FROM {HISTORIC_TABLE.name} ORDER BY rowid"
            )
        ]
    finally:
        connection.close()
    assert stored == indexes
