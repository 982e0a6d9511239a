"""The logical schema, derived from the label table, and frame -> row conversion.

Two tables, one per TIC mode. `teleinfoframes` (historic mode) starts with the 11 columns of
the original hand-made table, same names, order and meaning, so TeleInfoMonitor's
`SELECT * ... WHERE timestamp BETWEEN ...` keeps mapping them by position; then `reader`, one
typed column per other historic label, and `extra`. `teleinfoframes_standard` holds
standard-mode frames the same way (no legacy prefix: their labels mean other things, and
TeleInfoMonitor would choke on NULLs there). Columns a tariff does not send are NULL.

With `[database] teleinfomonitor`, TeleInfoMonitor's eleven columns show every meter: the
mapping of tic/teleinfomonitor.py fills those the meter does not send (BASE of an HC/HP meter,
IINST of a three-phase one; what it sends is the mapping's value too, so nothing is replaced),
a standard-mode frame also gets a row in `teleinfoframes` with only those columns, and
`mapped_from` names the meter kind whose mapping wrote them (NULL: the meter's own values).

Rows are plain tuples in column order, and a row travels through the spool as a dict of its
non-NULL columns, so a spool written before a schema upgrade still replays after it.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from datetime import datetime
from typing import Optional, Union

from teleinforeader.record import Record
from teleinforeader.tic import HISTORIC, STANDARD, Frame
from teleinforeader.tic.labels import HISTORIC_LABELS, STANDARD_LABELS, LabelSpec

HISTORIC_TABLE_NAME = "teleinfoframes"
STANDARD_TABLE_NAME = "teleinfoframes_standard"

# Logical column types; each backend maps them to its own SQL type.
TIMESTAMP = "timestamp"
INTEGER = "integer"
TEXT = "text"  # a TIC value: bounded, printable ASCII
JSON_TEXT = "json"  # unbounded

TEXT_LENGTH = 100  # the longest TIC value (PJOURF+1) is 98 characters
HORODATE_LENGTH = 13  # season letter + YYMMDDhhmmss
READER_LENGTH = 64
MAPPED_FROM_LENGTH = 32  # the longest meter kind of tic/teleinfomonitor.py is 21 characters

Value = Optional[Union[int, str]]


class Column(Record):
    name: str
    type: str
    length: int = 0  # TEXT only
    label: str = ""  # the TIC label it stores, "" for the bookkeeping columns
    horodate: bool = False  # the label's horodate instead of its value
    description: str = ""


class Table(Record):
    name: str
    mode: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # unique: a re-sent row is ignored

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)


# The original table's columns, in its order, with the historic label each one held.
LEGACY_COLUMNS = (
    Column("timestamp", TIMESTAMP, description="receive time (local time, microseconds)"),
    Column("meter_identifier", TEXT, 12, "ADCO", description="meter address (ADCO)"),
    Column("subscription_type", TEXT, 4, "OPTARIF", description="tariff option (OPTARIF)"),
    Column("subscription_power_in_a", INTEGER, label="ISOUSC", description="subscribed current"),
    Column("total_base_index_in_wh", INTEGER, label="BASE", description="BASE option index"),
    Column("current_pricing_period", TEXT, 4, "PTEC", description="tariff period (PTEC)"),
    Column("instantaneous_intensity_in_a", INTEGER, label="IINST", description="RMS current"),
    Column("intensity_max_in_a", INTEGER, label="IMAX", description="maximum current"),
    Column("power_consumption_in_va", INTEGER, label="PAPP", description="apparent power"),
    Column("peak_off_peak_schedule", TEXT, 1, "HHPHC", description="schedule group (HHPHC)"),
    Column("meter_state_code", TEXT, 6, "MOTDETAT", description="status word (MOTDETAT)"),
)
READER_COLUMN = Column(
    "reader", TEXT, READER_LENGTH, description="the reader that stored the row (host name)"
)
MAPPED_FROM_COLUMN = Column(
    "mapped_from",
    TEXT,
    MAPPED_FROM_LENGTH,
    description="the first 11 columns mapped for TeleInfoMonitor from this meter kind; NULL: sent",
)
EXTRA_COLUMN = Column(
    "extra", JSON_TEXT, description="labels missing from the label table, as a JSON object"
)


def column_name(label: str) -> str:
    """`SMAXSN-1` -> `smaxsn_minus_1`, `NJOURF+1` -> `njourf_plus_1`: valid everywhere."""
    return label.lower().replace("-", "_minus_").replace("+", "_plus_")


def _label_columns(specs: Mapping[str, LabelSpec], skip: set[str]) -> list[Column]:
    columns = []
    for spec in specs.values():
        if spec.label in skip:
            continue
        unit = f" ({spec.typed_unit})" if spec.typed_unit else ""
        name = column_name(spec.label)
        if spec.numeric:
            columns.append(Column(name, INTEGER, 0, spec.label, False, spec.meaning + unit))
        else:
            columns.append(Column(name, TEXT, TEXT_LENGTH, spec.label, False, spec.meaning))
        if spec.horodate:
            columns.append(
                Column(
                    f"{name}_horodate",
                    TEXT,
                    HORODATE_LENGTH,
                    spec.label,
                    True,
                    f"horodate of {spec.label} (season letter + YYMMDDhhmmss)",
                )
            )
    return columns


def _historic_table() -> Table:
    legacy_labels = {column.label for column in LEGACY_COLUMNS if column.label}
    columns = (
        *LEGACY_COLUMNS,
        READER_COLUMN,
        MAPPED_FROM_COLUMN,
        *_label_columns(HISTORIC_LABELS, legacy_labels),
        EXTRA_COLUMN,
    )
    return Table(
        HISTORIC_TABLE_NAME, HISTORIC, columns, ("timestamp", "reader", "meter_identifier")
    )


def _standard_table() -> Table:
    adsc = Column("adsc", TEXT, 12, "ADSC", description="meter address (ADSC)")
    columns = (
        LEGACY_COLUMNS[0],
        READER_COLUMN,
        adsc,
        *_label_columns(STANDARD_LABELS, {"ADSC"}),
        EXTRA_COLUMN,
    )
    return Table(STANDARD_TABLE_NAME, STANDARD, columns, ("timestamp", "reader", "adsc"))


HISTORIC_TABLE = _historic_table()
STANDARD_TABLE = _standard_table()
TABLES: dict[str, Table] = {HISTORIC: HISTORIC_TABLE, STANDARD: STANDARD_TABLE}
TABLES_BY_NAME: dict[str, Table] = {table.name: table for table in TABLES.values()}


def reader_name(configured: str) -> str:
    """This reader's name in a shared database: the configured one, else the host name."""
    return (configured or socket.gethostname())[:READER_LENGTH]


def format_timestamp(moment: datetime | None) -> str:
    """Local wall-clock time with microseconds, the text both backends compare and store.

    Local time because TeleInfoMonitor asks for '<day> 00:00:00' .. '<day> 23:59:59' of the
    local day, as the original stored it.
    """
    if moment is None:
        moment = datetime.now()
    elif moment.tzinfo is not None:
        moment = moment.astimezone().replace(tzinfo=None)
    return moment.isoformat(sep=" ", timespec="microseconds")


class _Plan(Record):
    """Where each piece of a frame goes in its table's row."""

    template: tuple[Value, ...]  # the row with only the reader filled in
    values: dict[str, tuple[int, int]]  # label -> (index, scale, or 0 to keep the text)
    horodates: dict[str, int]  # label -> index of its horodate column
    keys: tuple[int, ...]  # label columns of the key: "" rather than NULL
    extra: int


class RowBuilder:
    """Turns frames into rows of their mode's table; planned once, so a frame costs only its
    own labels (most columns of a row are NULL). With `teleinfomonitor`, TeleInfoMonitor's
    columns are filled for any meter (see the module's docstring)."""

    def __init__(self, reader: str, teleinfomonitor: bool = False) -> None:
        self.reader = reader
        self.teleinfomonitor = teleinfomonitor
        self._plans = {mode: self._plan(table) for mode, table in TABLES.items()}
        self._seed_places = {c.label: i for i, c in enumerate(LEGACY_COLUMNS) if c.label}
        self._mapped_from = HISTORIC_TABLE.columns.index(MAPPED_FROM_COLUMN)

    def _plan(self, table: Table) -> _Plan:
        specs = HISTORIC_LABELS if table.mode == HISTORIC else STANDARD_LABELS
        template: list[Value] = [None] * len(table.columns)
        values: dict[str, tuple[int, int]] = {}
        horodates: dict[str, int] = {}
        for index, column in enumerate(table.columns):
            if column is READER_COLUMN:
                template[index] = self.reader
            elif column.horodate:
                horodates[column.label] = index
            elif column.label:
                spec = specs[column.label]
                values[column.label] = (index, spec.scale if spec.numeric else 0)
        keys = tuple(values[c.label][0] for c in table.columns if c.label and c.name in table.key)
        return _Plan(tuple(template), values, horodates, keys, len(table.columns) - 1)

    def row(self, frame: Frame) -> tuple[Table, tuple[Value, ...]]:
        plan = self._plans[frame.mode]
        row = list(plan.template)
        row[0] = format_timestamp(frame.received_at)
        places = plan.values
        for label, raw in frame.items():
            place = places.get(label)
            if place is not None:
                row[place[0]] = int(raw) * place[1] if place[1] else raw
        for label, horodate in frame.raw_horodates.items():
            index = plan.horodates.get(label)
            if index is not None:
                row[index] = horodate
        for index in plan.keys:
            if row[index] is None:
                row[index] = ""  # a key column must not be NULL
        if frame.unknown:
            row[plan.extra] = _extra(frame)
        return TABLES[frame.mode], tuple(row)

    def rows(self, frame: Frame) -> list[tuple[Table, tuple[Value, ...]]]:
        """The frame's row, TeleInfoMonitor's columns filled when asked; a standard-mode
        frame then has a second row, in `teleinfoframes`, with those columns only."""
        table, row = self.row(frame)
        if not self.teleinfomonitor:
            return [(table, row)]
        if frame.mode == HISTORIC:
            return [(table, self.seeded(row, frame))]
        return [(table, row), (HISTORIC_TABLE, self.seeded(self.copy_template(row[0]), frame))]

    def copy_template(self, timestamp: Value, reader: str | None = None) -> tuple[Value, ...]:
        """A `teleinfoframes` row with only its time and reader: where a standard-mode frame's
        mapped copy goes."""
        row = list(self._plans[HISTORIC].template)
        row[0] = timestamp
        if reader is not None:
            row[HISTORIC_TABLE.columns.index(READER_COLUMN)] = reader
        return tuple(row)

    def seeded(self, historic_row: tuple[Value, ...], frame: Frame) -> tuple[Value, ...]:
        """`historic_row` with TeleInfoMonitor's columns set by the mapping of `frame`."""
        from teleinforeader.tic.teleinfomonitor import seed_values  # only with that setting

        row = list(historic_row)
        kind, values = seed_values(frame)
        for label, value in values.items():
            row[self._seed_places[label]] = value
        meter = self._seed_places["ADCO"]
        if row[meter] is None:
            row[meter] = ""  # a key column must not be NULL
        row[self._mapped_from] = kind
        return tuple(row)


def _extra(frame: Frame) -> str:
    """Unknown labels as JSON: value, or [horodate, value] when the group carried one."""
    horodates = frame.raw_horodates
    extra: dict[str, object] = {}
    for label in sorted(frame.unknown):
        value = frame[label]
        extra[label] = [horodates[label], value] if label in horodates else value
    return json.dumps(extra, separators=(",", ":"))


def row_to_record(table: Table, values: tuple[Value, ...]) -> dict[str, object]:
    """A row as a spool record: the table and its non-NULL columns by name."""
    return {
        "t": table.name,
        "v": {name: value for name, value in zip(table.column_names, values) if value is not None},
    }


def record_to_row(record: Mapping[str, object]) -> tuple[Table, tuple[Value, ...]]:
    """The row a spool record stands for, in the current column order; ValueError (saying
    why) for a record that cannot be one: no such table, a value of the wrong type."""
    if not isinstance(record, Mapping):
        raise ValueError("not a JSON object")
    table = TABLES_BY_NAME.get(str(record.get("t")))
    if table is None:
        raise ValueError(f"no table {record.get('t')!r}")
    named = record.get("v")
    if not isinstance(named, dict):
        raise ValueError("record values are not an object")
    for column in table.columns:
        value = named.get(column.name)
        if value is None:
            continue
        wanted = int if column.type == INTEGER else str
        if type(value) is not wanted:
            kind = "an integer" if wanted is int else "a string"
            raise ValueError(f"{column.name}: expected {kind}, found {json.dumps(value)[:40]}")
        if wanted is str and not value.isascii() and not _encodable(value):
            raise ValueError(f"{column.name}: not valid text")
    return table, tuple(named.get(name) for name in table.column_names)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, which JSON can carry and UTF-8 cannot
        return False
    return True
