"""Storage test helpers: real frames of every tariff, and the harness of one backend.

Frames go through the real encoder and decoder, so rows are compared with what the daemon
would really hand the writer.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from teleinforeader.settings import DatabaseSettings, MariaDBSettings, replace
from teleinforeader.sinks.database.backend import Backend
from teleinforeader.sinks.database.schema import TABLES, Table
from teleinforeader.sinks.database.writer import DatabaseSink
from teleinforeader.tic import HISTORIC, STANDARD, Decoder, Frame, encode_frame
from tests.support.mariadb_server import MariaDBServer
from tests.support.waiting import wait_for

START = datetime(2026, 11, 26, 0, 0, 0, 250000)
STEP = timedelta(milliseconds=400)  # two or three frames in one second: none may collide
PROFILE = "00008001 NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE"  # noqa: E501

_HISTORIC_COMMON = {"ISOUSC": "45", "IINST": "005", "IMAX": "090"}
METERS: dict[str, tuple[str, dict[str, str], dict[str, str]]] = {
    "historic-base": (
        HISTORIC,
        {
            **_HISTORIC_COMMON,
            "ADCO": "031762120120",
            "OPTARIF": "BASE",
            "BASE": "012345678",
            "PTEC": "TH..",
            "PAPP": "01150",
            "HHPHC": "A",
            "MOTDETAT": "000000",
        },
        {},
    ),
    "historic-hchp": (
        HISTORIC,
        {
            **_HISTORIC_COMMON,
            "ADCO": "031762120121",
            "OPTARIF": "HC..",
            "HCHC": "001234567",
            "HCHP": "007654321",
            "PTEC": "HP..",
            "PAPP": "02300",
            "HHPHC": "C",
            "MOTDETAT": "000000",
        },
        {},
    ),
    "historic-ejp": (
        HISTORIC,
        {
            **_HISTORIC_COMMON,
            "ADCO": "031762120122",
            "OPTARIF": "EJP.",
            "EJPHN": "000111222",
            "EJPHPM": "000333444",
            "PEJP": "30",
            "PTEC": "PM..",
            "PAPP": "00800",
            "HHPHC": "Y",
            "MOTDETAT": "000000",
        },
        {},
    ),
    "historic-tempo": (
        HISTORIC,
        {
            **_HISTORIC_COMMON,
            "ADCO": "031762120123",
            "OPTARIF": "BBR(",
            "BBRHCJB": "000000101",
            "BBRHPJB": "000000102",
            "BBRHCJW": "000000103",
            "BBRHPJW": "000000104",
            "BBRHCJR": "000000105",
            "BBRHPJR": "000000106",
            "PTEC": "HPJB",
            "DEMAIN": "----",
            "PAPP": "00400",
            "HHPHC": "Y",
            "MOTDETAT": "000000",
        },
        {},
    ),
    "historic-three-phase": (
        HISTORIC,
        {
            "ADCO": "031762120130",
            "OPTARIF": "BASE",
            "ISOUSC": "20",
            "BASE": "000500600",
            "PTEC": "TH..",
            "IINST1": "001",
            "IINST2": "002",
            "IINST3": "003",
            "IMAX1": "060",
            "IMAX2": "060",
            "IMAX3": "060",
            "PMAX": "03500",
            "PAPP": "00900",
            "HHPHC": "A",
            "MOTDETAT": "000000",
            "PPOT": "00",
        },
        {},
    ),
    "standard-mono": (
        STANDARD,
        {
            "ADSC": "041876097994",
            "VTIC": "02",
            "DATE": "",
            "NGTF": "      TEMPO     ",
            "LTARF": "    HP  BLEU    ",
            "EAST": "008471590",
            "EASF01": "004022187",
            "EASF02": "004449403",
            "EASD01": "004022187",
            "IRMS1": "002",
            "URMS1": "233",
            "PREF": "12",
            "PCOUP": "12",
            "SINSTS": "00519",
            "SMAXSN": "02560",
            "SMAXSN-1": "02410",
            "CCASN": "00484",
            "UMOY1": "232",
            "STGE": "003A4001",
            "MSG1": "PAS DE          MESSAGE         ",
            "PRM": "21427576436318",
            "RELAIS": "000",
            "NTARF": "02",
            "NJOURF": "00",
            "NJOURF+1": "00",
            "PJOURF+1": PROFILE,
        },
        {
            "DATE": "H261126000000",
            "SMAXSN": "H261125183314",
            "SMAXSN-1": "H261124190218",
            "CCASN": "H261126000000",
            "UMOY1": "H261126000000",
        },
    ),
    "standard-tri-producer": (
        STANDARD,
        {
            "ADSC": "041876097995",
            "VTIC": "02",
            "DATE": "",
            "EAST": "000123456",
            "EAIT": "000654321",
            "ERQ1": "000000011",
            "ERQ2": "000000012",
            "ERQ3": "000000013",
            "ERQ4": "000000014",
            "IRMS1": "001",
            "IRMS2": "002",
            "IRMS3": "003",
            "URMS1": "230",
            "URMS2": "231",
            "URMS3": "232",
            "SINSTS": "01200",
            "SINSTS1": "00400",
            "SINSTS2": "00400",
            "SINSTS3": "00400",
            "SMAXSN1": "01000",
            "SINSTI": "00100",
            "SMAXIN": "03000",
            "STGE": "013AC501",
            "NEWLABEL": "it's new",
        },
        {"DATE": "E260601120000", "SMAXSN1": "E260601113000", "SMAXIN": "E260601121500"},
    ),
}


def make_frames(meter: str, count: int, start: datetime = START) -> list[Frame]:
    """`count` frames of `meter`, received STEP apart, decoded from real wire bytes."""
    mode, groups, horodates = METERS[meter]
    decoder = Decoder(mode)
    wire = encode_frame(groups, mode, horodates)
    frames = []
    for index in range(count):
        (frame,) = decoder.feed(wire, start + index * STEP)
        frames.append(frame)
    return frames


def mariadb_settings(server: MariaDBServer, database: str) -> MariaDBSettings:
    """[database.mariadb] for the throwaway server, as the test user, failing fast."""
    return MariaDBSettings(
        host=server.host,
        port=server.port,
        user=server.user,
        password=server.password,
        database=database,
        connect_timeout=2,
    )


def as_text(value: Any) -> Any:
    """A stored timestamp as the text both backends compare (MariaDB returns a datetime)."""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="microseconds")
    return value


@dataclasses.dataclass
class Storage:
    """One backend under test: settings, a sink factory, SQL access, and an outage switch."""

    name: str
    state_directory: Path
    settings: DatabaseSettings
    backend_factory: Callable[[], Backend]
    take_down: Callable[[], None]
    bring_back: Callable[[], None]
    sinks: list[DatabaseSink] = dataclasses.field(default_factory=list)

    def sink(self, **overrides: Any) -> DatabaseSink:
        settings = replace(self.settings, **overrides)
        sink = DatabaseSink(
            self.backend_factory(),
            settings,
            self.state_directory,
            reconnect_delay=0.05,
            reconnect_max_delay=0.2,
        )
        self.sinks.append(sink)
        return sink

    def query(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        connection = self.backend_factory().connect()
        try:
            cursor = connection.cursor()
            cursor.execute(sql, parameters)
            return [tuple(as_text(value) for value in row) for row in cursor.fetchall()]
        finally:
            connection.close()

    def execute(self, sql: str) -> None:
        """A statement that returns nothing (DDL: a user dropping a table), committed."""
        connection = self.backend_factory().connect()
        try:
            connection.cursor().execute(sql)
            connection.commit()
        finally:
            connection.close()

    def rows(self, table: Table) -> list[dict[str, Any]]:
        q = self.backend_factory().dialect.quote
        result = self.query(f"SELECT * FROM {q(table.name)} ORDER BY {q('timestamp')}")
        return [dict(zip(table.column_names, row)) for row in result]


def store(storage: Storage, frames: list[Frame], **overrides: Any) -> DatabaseSink:
    """Write `frames` through a fresh sink and close it (all committed)."""
    settings = {"store_interval": 0, "flush_interval": 0.05, **overrides}
    sink = storage.sink(**settings)
    sink.start()
    for frame in frames:
        sink.submit(frame)
    sink.close(10)
    return sink


def caught_up_sink(storage: Storage, frames: list[Frame], **overrides: Any) -> DatabaseSink:
    """A started sink that has written `frames`: connected, and nothing waiting."""
    sink = storage.sink(**overrides)
    sink.start()
    for frame in frames:
        sink.submit(frame)
    wait_for(lambda: sink.status().counters["rows_written"] == len(frames), what="first rows")
    return sink


def expected_row(frame: Frame, reader: str) -> dict[str, Any]:
    """What the row of `frame` must hold, computed from the frame, not from the writer."""
    table = TABLES[frame.mode]
    row: dict[str, Any] = {column.name: None for column in table.columns}
    row["timestamp"] = as_text(frame.received_at)
    row["reader"] = reader
    for column in table.columns:
        if column.horodate:
            row[column.name] = frame.raw_horodates.get(column.label)
        elif column.label and column.label in frame:
            row[column.name] = frame.typed(column.label)
    if frame.unknown:
        unknown = {label: frame[label] for label in sorted(frame.unknown)}
        row["extra"] = json.dumps(unknown, separators=(",", ":"))
    return row
