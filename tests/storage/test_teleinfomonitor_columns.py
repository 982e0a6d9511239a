"""`[database] teleinfomonitor = true`: TeleInfoMonitor's daily plot shows every meter.

Its query (`SELECT * FROM teleinfodb.teleinfoframes WHERE (timestamp BETWEEN '<day> 00:00:00'
AND '<day> 23:59:59')`, the row's first eleven values by position) runs here as it does there,
on the throwaway MariaDB server; the same rows are checked on SQLite. What the meter sent stays
as it was: the standard-mode table is untouched, and no value a historic frame carried changes.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import mariadb
import pytest

from teleinforeader.settings import DatabaseSettings
from teleinforeader.sinks.database import backfill as backfill_module
from teleinforeader.sinks.database.mariadb import MariaDBBackend
from teleinforeader.sinks.database.migrations import (
    MARIADB,
    SQLITE,
    create_table_sql,
    record_version_sql,
    version_table_sql,
)
from teleinforeader.sinks.database.schema import (
    HISTORIC_TABLE,
    MAPPED_FROM_COLUMN,
    STANDARD_TABLE,
    TABLES,
    RowBuilder,
    Table,
)
from teleinforeader.sinks.database.writer import DatabaseSink
from teleinforeader.tic import HISTORIC, Frame
from teleinforeader.tic.teleinfomonitor import SEED_LABELS, seed_values
from tests.faults.fault_helpers import mariadb_sections, write_config
from tests.storage.helpers import Storage, as_text, make_frames, mariadb_settings, store
from tests.storage.test_db_command import _db
from tests.support.every_meter import every_meter, stamped
from tests.support.mariadb_server import MariaDBServer
from tests.support.teleinfomonitor import daily_query, frame_from_row

READER = "pi-test"  # the storage fixture's reader
DAY = date(2026, 11, 26)
START = datetime.combine(DAY, time(8, 0))


def corpus(start: datetime = START) -> list[Frame]:
    """Every meter's frames, received a second apart that day (each row its own key)."""
    frames = [frame for frames in every_meter().values() for frame in frames]
    return stamped(frames, start, timedelta(seconds=1))


def seed_row(frame: Frame) -> tuple[Any, ...]:
    """The eleven columns the mapping table gives the frame: None where it gives nothing
    (the meter's serial number, a key column, then "")."""
    values = seed_values(frame)[1]
    row = [values.get(label) for label in SEED_LABELS]
    row[0] = "" if row[0] is None else row[0]
    return (frame.received_at, *row)


def expected_daily_rows(frames: list[Frame]) -> list[dict[str, Any]]:
    return [frame_from_row(seed_row(frame)) for frame in frames]


def the_day(storage: Storage, day: date = DAY, order: str = "timestamp") -> list[tuple[Any, ...]]:
    """TeleInfoMonitor's daily query, on this backend's own database (SQLite has no schema
    name to put before the table's)."""
    query = daily_query(day).replace("teleinfodb.teleinfoframes", "teleinfoframes")
    return storage.query(f"{query} ORDER BY {order}")


def as_rows(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [tuple(as_text(value) for value in row) for row in rows]


def test_every_meter_shows_in_the_first_eleven_columns_as_mapped(storage: Storage) -> None:
    frames = corpus()
    sink = store(storage, frames, teleinfomonitor=True)
    standard = [frame for frame in frames if frame.mode != HISTORIC]
    assert sink.status().counters["rows_written"] == len(frames) + len(standard)
    rows = the_day(storage)
    assert [row[:11] for row in rows] == as_rows([seed_row(frame) for frame in frames])
    kinds = [row[HISTORIC_TABLE.columns.index(MAPPED_FROM_COLUMN)] for row in rows]
    assert kinds == [seed_values(frame)[0] for frame in frames]


def test_what_the_meter_sent_is_never_replaced(storage: Storage) -> None:
    frames = corpus()
    store(storage, frames, teleinfomonitor=True)
    raw = RowBuilder(READER)
    standard = as_rows([raw.row(frame)[1] for frame in frames if frame.mode != HISTORIC])
    assert storage.query("SELECT * FROM teleinfoframes_standard ORDER BY timestamp") == standard
    stored = {row[0]: row for row in storage.query("SELECT * FROM teleinfoframes")}
    seed_columns = {*range(len(SEED_LABELS) + 1), HISTORIC_TABLE.columns.index(MAPPED_FROM_COLUMN)}
    for (original,) in (as_rows([raw.row(f)[1]]) for f in frames if f.mode == HISTORIC):
        row = stored[original[0]]
        changed = {i for i, (o, s) in enumerate(zip(original, row)) if o != s}
        assert changed <= seed_columns  # only TeleInfoMonitor's columns and the marker ...
        assert all(original[i] is None for i in changed)  # ... and only where they were NULL


def test_by_default_the_columns_hold_only_what_the_meter_sent(storage: Storage) -> None:
    frames = make_frames("historic-hchp", 2) + make_frames("standard-mono", 2)
    store(storage, frames)
    rows = storage.rows(HISTORIC_TABLE)
    assert len(rows) == 2  # the standard frames are in their own table only
    assert all(row["total_base_index_in_wh"] is None for row in rows)
    assert all(row["mapped_from"] is None for row in rows)


# -- TeleInfoMonitor itself, on MariaDB ----------------------------------------------------------


def db_config(
    path: Path, server: MariaDBServer | None, database: str, sqlite_path: str, option: bool = True
) -> Path:
    """A configuration for `db init`, `[database] teleinfomonitor = option`: MariaDB when
    `server` is given."""
    sections: dict[str, dict[str, Any]] = {"daemon": {"state_directory": str(path.parent)}}
    if server is None:
        sections["database"] = {"sqlite_path": sqlite_path, "teleinfomonitor": option}
    else:
        sections.update(mariadb_sections(server, database, teleinfomonitor=option))
    return write_config(path, sections)


@pytest.mark.mariadb
def test_teleinfomonitors_own_daily_query_shows_every_meter(
    tmp_path: Path, mariadb_server: MariaDBServer, teleinfodb: str
) -> None:
    settings = mariadb_settings(mariadb_server, teleinfodb)
    config = db_config(tmp_path / "teleinforeader.toml", mariadb_server, teleinfodb, "")
    init = _db("init", "--config", str(config))
    assert init.returncode == 0, init.stderr
    frames = corpus()
    sink = DatabaseSink(
        MariaDBBackend(settings),
        DatabaseSettings(
            backend="mariadb", store_interval=0, flush_interval=0.05, teleinfomonitor=True
        ),
        tmp_path / "state",
    )
    sink.start()
    for frame in frames:
        sink.submit(frame)
    sink.close(10)
    # DatabaseClient.connect, then _test_connection, then the calendar's day: as it does them.
    connection = mariadb.connect(
        user=settings.user,
        password=settings.password,
        host=settings.host,
        port=settings.port,
        database=teleinfodb,
    )
    try:
        cursor = connection.cursor()
        cursor.execute("select count(*) row_count from teleinfoframes")
        assert cursor.fetchall()[0][0] == len(frames)
        cursor = connection.cursor()
        cursor.execute(daily_query(DAY))
        shown = [frame_from_row(row) for row in cursor.fetchall()]
        cursor = connection.cursor()
        cursor.execute(daily_query(DAY + timedelta(days=1)))
        assert cursor.fetchall() == []
    finally:
        connection.close()
    shown.sort(key=lambda row: row["timestamp"])
    assert shown == expected_daily_rows(frames)
    plotted = [row["instantaneous_intensity_in_a"] for row in shown]
    print(f"{len(shown)} rows, {sum(v is not None for v in plotted)} with a current to plot")


# -- db init on a database of the previous schema ------------------------------------------------


def without_mapped_from(table: Table) -> Table:
    return table._replace(columns=tuple(c for c in table.columns if c is not MAPPED_FROM_COLUMN))


def test_db_init_upgrades_a_database_of_the_previous_schema_keeping_its_rows(
    storage: Storage, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    dialect = SQLITE if storage.name == "sqlite" else MARIADB
    old_tables = {table.name: without_mapped_from(table) for table in TABLES.values()}
    statements = [version_table_sql(dialect)]
    for table in old_tables.values():
        statements += create_table_sql(dialect, table)
    for statement in statements:
        storage.execute(statement)
    storage.execute(
        record_version_sql(dialect, "1, 'frame tables for both TIC modes', CURRENT_TIMESTAMP")
    )
    old_frames = corpus(START - timedelta(days=1))
    raw = RowBuilder(READER)
    connection = storage.backend_factory().connect()
    try:
        for frame in old_frames:
            table, row = raw.row(frame)
            old = old_tables[table.name]
            values = tuple(v for v, c in zip(row, table.columns) if c is not MAPPED_FROM_COLUMN)
            connection.cursor().execute(dialect.insert_sql(old), values)
        connection.commit()
    finally:
        connection.close()
    before = {
        name: storage.query(f"SELECT * FROM {name} ORDER BY timestamp") for name in old_tables
    }

    server = request.getfixturevalue("mariadb_server") if storage.name == "mariadb" else None
    settings = storage.settings
    path = tmp_path / "teleinforeader.toml"

    def db_init(option: bool) -> str:
        config = db_config(path, server, settings.mariadb.database, settings.sqlite_path, option)
        result = _db("init", "--config", str(config))
        assert result.returncode == 0, result.stderr
        return result.stdout

    def tables() -> dict[str, list[tuple[Any, ...]]]:
        return {
            name: storage.query(f"SELECT * FROM {name} ORDER BY timestamp") for name in old_tables
        }

    assert "column teleinfoframes.mapped_from added" in db_init(option=False)
    after = tables()
    historic, standard = HISTORIC_TABLE.name, STANDARD_TABLE.name
    assert [row[:-1] for row in after[historic]] == before[historic]  # the new column is last
    assert all(row[-1] is None for row in after[historic])
    assert after[standard] == before[standard]

    # Turned on: the rows stored before are mapped as new ones would be, once.
    assert f"{len(old_frames)} older rows mapped" in db_init(option=True)
    yesterday = the_day(storage, DAY - timedelta(days=1))
    assert [row[:11] for row in yesterday] == as_rows([seed_row(frame) for frame in old_frames])
    after = tables()
    assert after[standard] == before[standard]
    mapped = {row[0]: row for row in after[historic]}
    for original in before[historic]:
        row = mapped[original[0]]
        changed = {i for i, (o, s) in enumerate(zip(original, row)) if o != s}
        assert changed <= set(range(len(SEED_LABELS) + 1))
        assert all(original[i] is None for i in changed)
    assert "0 older rows mapped" in db_init(option=True)
    assert tables() == after

    frames = corpus()
    store(storage, frames, teleinfomonitor=True)
    assert len(the_day(storage)) == len(frames)


def test_backfill_goes_batch_by_batch_across_rows_of_the_same_time(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three meters, each frame of one at the same time as one of the others: batches of 7
    end in the middle of such a group, and every row is mapped once."""
    meters = ("historic-base", "historic-three-phase", "standard-mono")
    frames = [
        frame
        for index in range(20)
        for meter in meters
        for frame in stamped(make_frames(meter, 1), START + timedelta(seconds=index), timedelta())
    ]
    store(storage, frames)
    monkeypatch.setattr(backfill_module, "BATCH", 7)
    connection = storage.backend_factory().connect()
    try:
        dialect = SQLITE if storage.name == "sqlite" else MARIADB
        assert backfill_module.backfill(connection, dialect) == len(frames)
        assert backfill_module.backfill(connection, dialect) == 0
    finally:
        connection.close()
    rows = the_day(storage, order="timestamp, meter_identifier")
    expected = sorted(as_rows([seed_row(frame) for frame in frames]), key=lambda row: row[:2])
    assert [row[:11] for row in rows] == expected
