"""TeleInfoMonitor's columns for the rows stored before `[database] teleinfomonitor` was on.

The writer maps the frames it stores once the setting is on; `db init` with the setting maps
the older rows too, so that TeleInfoMonitor's daily plot shows the past days as well: each
`teleinfoframes` row not mapped yet (`mapped_from` NULL) gets TeleInfoMonitor's columns filled,
each `teleinfoframes_standard` row without its copy in `teleinfoframes` gets one. A row is
turned back into the frame it was stored from (the labels of its columns, numbers divided by
their scale) and mapped as a new frame would be, so old and new rows agree. Batches of `BATCH`
rows, each committed: an interrupted run resumes where it stopped, and a second run finds
nothing to do.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from teleinforeader.sinks.database.migrations import Dialect
from teleinforeader.sinks.database.schema import (
    HISTORIC_TABLE,
    LEGACY_COLUMNS,
    MAPPED_FROM_COLUMN,
    READER_COLUMN,
    STANDARD_TABLE,
    RowBuilder,
    Table,
    column_name,
)
from teleinforeader.tic import Frame
from teleinforeader.tic.frame import Rejection
from teleinforeader.tic.labels import LABELS

BATCH = 500
# Standard groups a meter may not send at all, whose absence the mapping reads (NGTF: no named
# contract; LTARF: no named period): a row does not say whether noise took them.
OPTIONAL_TEXTS = ("NGTF", "LTARF")


def backfill(connection: Any, dialect: Dialect) -> int:
    """Map every row stored without the setting; return how many rows were written."""
    builder = RowBuilder("", teleinfomonitor=True)
    return _fill_historic(connection, dialect, builder) + _copy_standard(
        connection, dialect, builder
    )


def frame_of_row(table: Table, row: tuple[Any, ...], lost: Iterable[str] = ()) -> Frame:
    """The frame a row was stored from, as far as its columns tell (unknown labels aside);
    `lost`: labels the row lacks that its meter sends, taken as refused by the decoder."""
    groups: dict[str, str] = {}
    horodates: dict[str, str] = {}
    specs = LABELS[table.mode]
    for column, value in zip(table.columns, row):
        if value is None or not column.label:
            continue
        if column.horodate:
            horodates[column.label] = value
        else:
            spec = specs[column.label]
            groups[column.label] = str(value // spec.scale) if spec.numeric else value
    stamp = row[0] if isinstance(row[0], datetime) else datetime.fromisoformat(row[0])
    refused = tuple(Rejection("not stored", label, b"") for label in lost if label not in groups)
    return Frame(groups, table.mode, stamp, horodates, refused)


def _batches(connection: Any, select: str) -> Iterator[list[tuple[Any, ...]]]:
    """The rows `select` finds, BATCH at a time in time order, until it finds none. Each batch
    is written before the next select, which no longer finds it, and starts at the last time
    seen: the primary key (timestamp first) then reads only the rows left, whatever the size
    of the table. `select` has a `{since}` placeholder for that condition."""
    previous, since, parameters = None, "", ()
    while True:
        cursor = connection.cursor()
        cursor.execute(select.format(since=since), parameters)
        rows = [tuple(row) for row in cursor.fetchall()]
        if not rows:
            return
        if rows[0] == previous:
            raise RuntimeError(f"rows selected again after being mapped: {rows[0][:3]}")
        previous = rows[0]
        yield rows
        since, parameters = "timestamp >= ? AND ", (rows[-1][0],)


def _fill_historic(connection: Any, dialect: Dialect, builder: RowBuilder) -> int:
    q = dialect.quote
    table = HISTORIC_TABLE
    names = ", ".join(q(name) for name in table.column_names)
    set_columns = [*LEGACY_COLUMNS[2:], MAPPED_FROM_COLUMN]  # the key's columns stay
    places = [table.columns.index(column) for column in set_columns]
    key = [table.column_names.index(name) for name in table.key]
    update = (
        f"UPDATE {q(table.name)} SET {', '.join(f'{q(c.name)} = ?' for c in set_columns)} "
        f"WHERE {' AND '.join(f'{q(name)} = ?' for name in table.key)}"
    )
    select = (
        f"SELECT {names} FROM {q(table.name)} WHERE {{since}}{q(MAPPED_FROM_COLUMN.name)} IS NULL "
        f"ORDER BY {q('timestamp')} LIMIT {BATCH}"
    )
    written = 0
    for rows in _batches(connection, select):
        parameters = []
        for row in rows:
            mapped = builder.seeded(row, frame_of_row(table, row))
            parameters.append((*(mapped[i] for i in places), *(row[i] for i in key)))
        connection.cursor().executemany(update, parameters)
        connection.commit()
        written += len(rows)
    return written


def _meters_sending(connection: Any, dialect: Dialect, label: str) -> set[Any]:
    """The meters with a standard row holding `label`: where another row of theirs lacks it,
    noise took it (the mapping then leaves out what it names, as it did live)."""
    q = dialect.quote
    table = STANDARD_TABLE
    cursor = connection.cursor()
    cursor.execute(
        f"SELECT DISTINCT {q(table.key[2])} FROM {q(table.name)} "
        f"WHERE {q(column_name(label))} IS NOT NULL"
    )
    return {row[0] for row in cursor.fetchall()}


def _copy_standard(connection: Any, dialect: Dialect, builder: RowBuilder) -> int:
    q = dialect.quote
    table, copies = STANDARD_TABLE, HISTORIC_TABLE
    names = ", ".join(f"s.{q(name)}" for name in table.column_names)
    reader = table.columns.index(READER_COLUMN)
    select = (
        f"SELECT {names} FROM {q(table.name)} s WHERE {{since}}NOT EXISTS (SELECT 1 FROM "
        f"{q(copies.name)} h WHERE h.{q('timestamp')} = s.{q('timestamp')} "
        f"AND h.{q('reader')} = s.{q('reader')} AND h.{q(copies.key[2])} = s.{q(table.key[2])})"
        f" ORDER BY s.{q('timestamp')} LIMIT {BATCH}"
    )
    insert = dialect.insert_sql(copies)
    meter = table.column_names.index(table.key[2])
    senders = {label: _meters_sending(connection, dialect, label) for label in OPTIONAL_TEXTS}
    written = 0
    for rows in _batches(connection, select):
        parameters = []
        for row in rows:
            lost = [label for label, meters in senders.items() if row[meter] in meters]
            frame = frame_of_row(table, row, lost)
            parameters.append(builder.seeded(builder.copy_template(row[0], row[reader]), frame))
        connection.cursor().executemany(insert, parameters)
        connection.commit()
        written += len(rows)
    return written
