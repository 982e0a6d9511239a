"""No frame is lost when the database goes away, even across a daemon restart meanwhile."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from teleinforeader.sinks.database.schema import HISTORIC_TABLE, STANDARD_TABLE
from tests.storage.helpers import START, Storage, caught_up_sink, make_frames
from tests.support.mariadb_server import MariaDBServer
from tests.support.waiting import wait_for

FAST = {"store_interval": 0, "flush_interval": 0.05, "batch_size": 10, "memory_backlog": 5}


def _keys(storage: Storage) -> list[tuple[str, str]]:
    rows = storage.rows(HISTORIC_TABLE) + storage.rows(STANDARD_TABLE)
    return [(row["timestamp"], row["reader"]) for row in rows]


def test_outage_and_restart_while_down_lose_nothing_and_duplicate_nothing(
    storage: Storage,
) -> None:
    before = make_frames("historic-tempo", 20)
    during = make_frames("historic-tempo", 30, START + timedelta(minutes=1))
    after_restart = make_frames("standard-mono", 15, START + timedelta(minutes=2))

    sink = storage.sink(**FAST)
    sink.start()
    for frame in before:
        sink.submit(frame)
    wait_for(lambda: sink.status().counters.get("rows_written") == 20, what="first rows")

    storage.take_down()
    for frame in during:
        sink.submit(frame)
    # Beyond the memory bound, frames go to the spool while the database is away.
    wait_for(lambda: sink.status().counters.get("spooled", 0) >= 25, what="spooling")
    assert sink.status().backlog == 30
    sink.close(5)  # the daemon stops while the database is still away
    assert Path(sink.spool_path).read_bytes().count(b"\n") == 30

    restarted = storage.sink(**FAST)
    restarted.start()
    assert restarted.status().backlog == 30
    for frame in after_restart:
        restarted.submit(frame)
    storage.bring_back()
    wait_for(lambda: restarted.status().backlog == 0, what="the backlog to drain")
    restarted.close(5)

    stored = _keys(storage)
    expected = [(str(f.received_at), "pi-test") for f in before + during + after_restart]
    assert sorted(stored) == sorted(expected)
    assert len(set(stored)) == len(stored)
    assert restarted.status().counters["replayed"] >= 30  # and what overflowed since
    assert Path(restarted.spool_path).stat().st_size == 0


def test_rows_resent_after_an_ambiguous_commit_are_not_duplicated(storage: Storage) -> None:
    frames = make_frames("historic-hchp", 10)
    sink = storage.sink(**FAST)
    sink.start()
    for frame in frames:
        sink.submit(frame)
    wait_for(lambda: sink.status().counters.get("rows_written") == 10, what="rows")
    sink.close(5)
    # A crash after the commit but before the spool was emptied: the spool still holds them.
    connection = storage.backend_factory().connect()
    cursor = connection.cursor()
    cursor.execute("SELECT * FROM teleinfoframes")
    names = [d[0] for d in cursor.description]
    records = [
        {"t": "teleinfoframes", "v": {n: _jsonable(v) for n, v in zip(names, row) if v is not None}}
        for row in cursor.fetchall()
    ]
    connection.close()
    Path(sink.spool_path).write_text("".join(json.dumps(r) + "\n" for r in records))

    replaying = storage.sink(**FAST)
    replaying.start()
    wait_for(lambda: replaying.status().backlog == 0, what="the replay")
    replaying.close(5)
    assert replaying.status().counters["replayed"] == 10
    assert len(storage.rows(HISTORIC_TABLE)) == 10


def _jsonable(value: object) -> object:
    return value if isinstance(value, (int, str)) else str(value)


@pytest.mark.mariadb
@pytest.mark.parametrize("storage", ["mariadb"], indirect=True)
def test_a_hung_server_blocks_neither_submit_nor_shutdown(
    storage: Storage, mariadb_server: MariaDBServer
) -> None:
    frames = make_frames("historic-base", 40)
    sink = caught_up_sink(storage, frames[:10], **FAST)
    mariadb_server.pause()
    try:
        for frame in frames[10:]:
            sink.submit(frame)  # the writer gets stuck in a statement: submit still returns
        wait_for(lambda: sink.status().backlog == 30, what="the frames to wait")
        sink.close(1)  # the writer cannot finish: what waits goes to the spool
        assert Path(sink.spool_path).read_bytes().count(b"\n") == 30
    finally:
        mariadb_server.resume()

    restarted = storage.sink(**FAST)
    restarted.start()
    wait_for(lambda: restarted.status().backlog == 0, what="the replay")
    restarted.close(5)
    stored = _keys(storage)
    assert sorted(stored) == sorted((str(f.received_at), "pi-test") for f in frames)
