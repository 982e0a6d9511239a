"""The database damaged under the daemon, on both backends: a table dropped by a user clearing
history, rows the server refuses, and (SQLite) the file deleted or replaced. Nothing is retried
for ever, nothing is lost, and what cannot be stored is set aside with the reason."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
from pathlib import Path

import pytest

from teleinforeader.sinks.database.backend import AWAY, ROW, SCHEMA
from teleinforeader.sinks.database.schema import (
    HISTORIC_TABLE,
    RowBuilder,
    row_to_record,
)
from teleinforeader.sinks.database.spool import Spool
from tests.storage.helpers import Storage, caught_up_sink, make_frames, store
from tests.support.waiting import wait_for

READER = "pi-test"


def stamps(rows: list[dict]) -> list[str]:
    return [str(row["timestamp"]) for row in rows]


def frame_stamps(frames) -> list[str]:
    return [frame.received_at.isoformat(sep=" ", timespec="microseconds") for frame in frames]


def row_count(storage: Storage) -> int:
    try:
        return len(storage.rows(HISTORIC_TABLE))
    except Exception:  # the table is not there (yet)
        return -1


# --- a dropped table ---------------------------------------------------------------------------


def test_db_init_creates_again_a_table_dropped_by_hand(storage: Storage) -> None:
    store(storage, make_frames("historic-base", 2))
    storage.execute("DROP TABLE teleinfoframes")
    backend = storage.backend_factory()
    connection = backend.connect()
    try:
        done = backend.upgrade(connection)
        assert done == ["table teleinfoframes created (it was missing)"]
        assert backend.upgrade(connection) == []
    finally:
        connection.close()
    assert storage.rows(HISTORIC_TABLE) == []


def test_the_writer_creates_again_a_table_dropped_under_it(
    storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    frames = make_frames("historic-base", 8)
    sink = caught_up_sink(storage, frames[:3], store_interval=0, flush_interval=0.05)
    storage.execute("DROP TABLE teleinfoframes")
    for frame in frames[3:]:
        sink.submit(frame)
    wait_for(lambda: row_count(storage) == 5, what="the rows after the drop")
    sink.close(10)
    assert stamps(storage.rows(HISTORIC_TABLE)) == frame_stamps(frames[3:])
    counters = sink.status().counters
    assert counters["schema_repairs"] >= 1 and counters["rejected"] == 0
    assert sink.status().backlog == 0
    assert "table teleinfoframes created (it was missing)" in caplog.text


# --- rows the database refuses -----------------------------------------------------------------


def records(frames) -> list[dict]:
    builder = RowBuilder(READER)
    return [row_to_record(*builder.row(frame)) for frame in frames]


def with_values(record: dict, **values: object) -> dict:
    changed = {**record["v"], **values}
    return {"t": record["t"], "v": {k: v for k, v in changed.items() if v is not None}}


def spool_then_store(storage: Storage, lines: list[dict]) -> tuple:
    """A spool left by an earlier run holding `lines`, then a sink that replays it."""
    spool = Spool(storage.state_directory / f"{storage.name}-spool.jsonl")
    spool.append(lines)
    spool.close()
    sink = storage.sink(store_interval=0, flush_interval=0.05)
    sink.start()
    # A sink closed at once keeps the spool for the next start: wait for it to be replayed.
    wait_for(lambda: sink.status().backlog == 0, what="the spool replayed")
    sink.close(10)
    rejects = Path(sink.rejects_path)
    kept = (
        [json.loads(line) for line in rejects.read_text().splitlines()] if rejects.exists() else []
    )
    return sink, kept


def test_spool_records_that_cannot_be_rows_are_set_aside_with_the_reason(
    storage: Storage,
) -> None:
    frames = make_frames("historic-base", 4)
    good = records(frames)
    bad = [
        with_values(good[1], power_consumption_in_va="abc"),  # a wrong type
        with_values(good[2], total_base_index_in_wh=[1, 2]),  # SQLite cannot bind a list
        {"t": "no_such_table", "v": {}},
    ]
    sink, kept = spool_then_store(storage, [good[0], *bad, good[3]])
    assert stamps(storage.rows(HISTORIC_TABLE)) == frame_stamps([frames[0], frames[3]])
    assert [line["record"] for line in kept] == bad
    assert [line["reason"] for line in kept] == [
        'not a row: power_consumption_in_va: expected an integer, found "abc"',
        "not a row: total_base_index_in_wh: expected an integer, found [1, 2]",
        "not a row: no table 'no_such_table'",
    ]
    assert sink.status().counters["rejected"] == 3
    assert sink.status().backlog == 0


def test_a_row_the_database_refuses_does_not_block_the_rows_after_it(storage: Storage) -> None:
    frames = make_frames("historic-base", 5)
    good = records(frames)
    refused = [with_values(good[1], timestamp=None)]  # its key NULL: a constraint, both backends
    if storage.name == "mariadb":
        # A well-formed but impossible date: MariaDB says 1292 as an OperationalError (SQLSTATE
        # 22007), which was taken for a lost connection and retried for ever.
        refused.append(with_values(good[2], timestamp="2026-13-45 00:00:00.000000"))
    else:
        store(storage, [])  # the tables, to hang a constraint an administrator added on
        storage.execute(
            "CREATE TRIGGER refuse_papp_999 BEFORE INSERT ON teleinfoframes "
            "WHEN NEW.power_consumption_in_va = 999 BEGIN SELECT RAISE(ABORT, 'no 999'); END"
        )
        refused.append(with_values(good[2], power_consumption_in_va=999))
    lines = [good[0], refused[0], refused[1], good[3], good[4]]
    sink, kept = spool_then_store(storage, lines)
    assert stamps(storage.rows(HISTORIC_TABLE)) == frame_stamps([frames[0], *frames[3:]])
    assert [line["record"] for line in kept] == refused
    assert all(line["reason"].startswith("refused by the database: ") for line in kept)
    assert sink.status().counters["rejected"] == 2
    assert sink.status().backlog == 0
    # The next start has nothing left to retry: the spool is empty, the rejects stay.
    again = store(
        storage, make_frames("historic-base", 1, start=frames[-1].received_at.replace(year=2027))
    )
    assert again.status().counters["rejected"] == 0 and again.status().counters["replayed"] == 0


def test_errors_are_told_apart_by_the_drivers_own_classes_and_codes(storage: Storage) -> None:
    """Real errors from the real driver: a refused value, a missing table, a stopped server."""
    backend = storage.backend_factory()
    store(storage, [])
    connection = backend.connect()
    table = storage.backend_factory().dialect.quote("teleinfoframes")

    def error_of(sql: str, parameters: tuple = ()) -> BaseException:
        try:
            connection.cursor().execute(sql, parameters)
            connection.commit()
        except Exception as exc:  # the driver's own exception
            with contextlib.suppress(Exception):  # the connection may be gone with the server
                connection.rollback()
            return exc
        raise AssertionError(f"{sql} did not fail")

    insert = f"INSERT INTO {table} (timestamp, reader, meter_identifier) VALUES (?, ?, ?)"
    assert backend.error_kind(error_of(insert, (None, READER, "1"))) == ROW
    assert backend.error_kind(error_of("INSERT INTO no_such_table VALUES (1)")) == SCHEMA
    if storage.name == "mariadb":
        assert backend.error_kind(error_of(insert, ("2026-13-45", READER, "1"))) == ROW
        assert backend.error_kind(error_of(insert, ("2026-01-01", READER, "1" * 40))) == ROW
        storage.take_down()
        try:
            lost = error_of("SELECT 1")
        finally:
            storage.bring_back()
    else:
        assert backend.error_kind(error_of(insert, ("2026-01-01", READER, [1]))) == ROW
        storage.take_down()  # another process holds the write lock
        try:
            lost = error_of(insert, ("2026-01-01", READER, "1"))
        finally:
            storage.bring_back()
    assert backend.error_kind(lost) == AWAY
    connection.close()


# --- the SQLite file deleted or replaced -------------------------------------------------------


@pytest.mark.parametrize("storage", ["sqlite"], indirect=True)
@pytest.mark.parametrize("how", ["deleted", "rotated", "replaced"])
def test_a_sqlite_file_deleted_or_replaced_under_the_daemon_loses_nothing(
    storage: Storage, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    path = Path(storage.settings.sqlite_path)
    frames = make_frames("historic-base", 10)
    sink = caught_up_sink(storage, frames[:4], store_interval=0, flush_interval=0.05)
    if how == "deleted":  # a user starting afresh
        for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            name.unlink(missing_ok=True)
    elif how == "rotated":
        path.rename(path.with_name(path.name + ".1"))
    else:  # another database put in its place
        other = path.with_name("other.sqlite3")
        sqlite3.connect(other).close()
        os.replace(other, path)
    for frame in frames[4:]:
        sink.submit(frame)
    wait_for(lambda: row_count(storage) == 6, what="the rows in the new file")
    sink.close(10)
    assert stamps(storage.rows(HISTORIC_TABLE)) == frame_stamps(frames[4:])
    warnings = [r.getMessage() for r in caplog.records if "under the daemon" in r.getMessage()]
    assert len(warnings) == 1
    assert sink.status().counters["file_reopened"] == 1
