"""The web server as a user sees it: a real daemon process reading a meter whose frames the test
sends one at a time (over socket://), a database seeded with earlier days, real HTTP requests.

The meter is a historic HC/HP one: two indexes, so that energy per tariff period is checked,
and a power and a current that change with every frame.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from teleinforeader.settings import DatabaseSettings, MariaDBSettings
from teleinforeader.sinks.database import create_backend
from teleinforeader.sinks.database.schema import TABLES, RowBuilder
from teleinforeader.tic import HISTORIC, Decoder, encode_frame
from tests.faults.fault_helpers import DaemonProcess, free_port, mariadb_sections, write_config
from tests.support.mariadb_server import MariaDBServer
from tests.support.waiting import wait_for

METER = "031762120121"
READER = "pi-web"
SEED_STEP = timedelta(minutes=5)
# Longer than a test that seeds the days before today, then asks the daemon about today.
MIDNIGHT_MARGIN = timedelta(minutes=5)


class Reading(NamedTuple):
    """One frame of the HC/HP meter."""

    hchc: int
    hchp: int
    papp: int
    off_peak: bool = True

    def groups(self) -> dict[str, str]:
        return {
            "ADCO": METER,
            "OPTARIF": "HC..",
            "ISOUSC": "30",
            "HCHC": f"{self.hchc:09d}",
            "HCHP": f"{self.hchp:09d}",
            "PTEC": "HC.." if self.off_peak else "HP..",
            "IINST": f"{self.papp // 230:03d}",
            "IMAX": "090",
            "PAPP": f"{self.papp:05d}",
            "HHPHC": "A",
            "MOTDETAT": "000000",
        }

    def wire(self) -> bytes:
        return encode_frame(self.groups(), HISTORIC)


def local_midnight() -> datetime:
    """Today's local midnight, for a test to take once: when the next one is nearer than
    MIDNIGHT_MARGIN, it waits for it, so that the test and the daemon agree on "today" until
    the test ends."""
    now = datetime.now()
    ahead = datetime.combine(now.date() + timedelta(days=1), datetime.min.time()) - now
    if ahead < MIDNIGHT_MARGIN:
        time.sleep(ahead.total_seconds() + 1)
    return datetime.combine(datetime.now().date(), datetime.min.time())


def household_power(moment: datetime, n: int) -> int:
    """What a household draws (VA): little at night, a morning and an evening peak, more at
    home at the weekend, never twice the same."""
    hour = moment.hour
    if 7 <= hour < 9:
        base = 1800
    elif 18 <= hour < 22:
        base = 2400
    elif 0 <= hour < 6:
        base = 350
    else:
        base = 1100 if moment.weekday() >= 5 else 600
    return base + (n * 97) % 400


def seed_readings(
    days: int, today: datetime, end: datetime | None = None
) -> list[tuple[datetime, Reading]]:
    """Every SEED_STEP from `days` days before `today` (local midnight) until `end` (`today`),
    off-peak from 22:00 to 06:00: the indexes count what the power drew."""
    readings = []
    moment = today - timedelta(days=days)
    hchc, hchp = 1_000_000, 2_000_000
    n = 0
    while moment < (end or today):
        off_peak = moment.hour >= 22 or moment.hour < 6
        papp = household_power(moment, n)
        readings.append((moment, Reading(hchc, hchp, papp, off_peak)))
        used = papp * SEED_STEP.seconds // 3600
        if off_peak:
            hchc += used
        else:
            hchp += used
        moment += SEED_STEP
        n += 1
    return readings


def seed_database(
    settings: DatabaseSettings, state_directory: Path, readings: Sequence[tuple[datetime, Reading]]
) -> None:
    """Store `readings` as the daemon's writer would have, before the daemon starts."""
    backend = create_backend(settings, state_directory)
    builder = RowBuilder(READER)
    decoder = Decoder(HISTORIC)
    rows = []
    for moment, reading in readings:
        (frame,) = decoder.feed(reading.wire())
        frame.received_at = moment
        rows.append(builder.row(frame)[1])
    connection = backend.connect()
    try:
        backend.upgrade(connection)
        cursor = connection.cursor()
        cursor.executemany(backend.dialect.insert_sql(TABLES[HISTORIC]), rows)
        connection.commit()
    finally:
        connection.close()


class TcpMeter:
    """The far end of `socket://`: the daemon connects (again after a silence, when its source
    reopens the line), the test sends frames when it wants, on the newest connection."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self.listener.getsockname()[1]}"
        self._connections: list[socket.socket] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:  # closed
                return
            self._connections.append(connection)

    @property
    def connections(self) -> int:
        """How many times the daemon connected."""
        return len(self._connections)

    def send(self, reading: Reading) -> None:
        wait_for(lambda: self._connections, 30, "the daemon to connect to the meter")
        self._connections[-1].sendall(reading.wire())

    def close(self) -> None:
        self.listener.close()
        for connection in self._connections:
            connection.close()


@dataclass
class WebDaemon:
    process: DaemonProcess
    port: int
    meter: TcpMeter

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> Response:
        return get(self.port, path, headers)

    def json(self, path: str) -> Any:
        response = self.get(path)
        assert response.status == 200, (path, response.status, response.body[:200])
        return json.loads(response.body)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Response(NamedTuple):
    status: int
    headers: Mapping[str, str]
    body: bytes


def get(port: int, path: str, headers: Mapping[str, str] | None = None) -> Response:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=dict(headers or {}))
        answer = connection.getresponse()
        body = answer.read()
        return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, body)
    finally:
        connection.close()


def database_sections(
    backend: str, tmp_path: Path, server: MariaDBServer | None, database: str | None
) -> tuple[dict[str, Any], DatabaseSettings]:
    """[database] sections for the daemon (every frame stored, quick commits) and the same
    settings as objects for seeding."""
    if backend == "sqlite":
        path = str(tmp_path / "frames.sqlite3")
        sections = {
            "database": {
                "backend": "sqlite",
                "sqlite_path": path,
                "store_interval": 0,
                "flush_interval": 0.2,
                "reader": READER,
            }
        }
        return sections, DatabaseSettings(backend="sqlite", sqlite_path=path, reader=READER)
    assert server is not None and database is not None
    sections = mariadb_sections(server, database, flush_interval=0.2, reader=READER)
    mariadb = MariaDBSettings(**sections["database.mariadb"])
    return sections, DatabaseSettings(backend="mariadb", reader=READER, mariadb=mariadb)


@contextlib.contextmanager
def web_daemon(
    tmp_path: Path,
    sections: Mapping[str, Mapping[str, Any]],
    silence_timeout: float = 30.0,
) -> Iterator[WebDaemon]:
    """A daemon reading a TcpMeter, its web server on a free loopback port, until the end."""
    meter = TcpMeter()
    port = free_port()
    config = write_config(
        tmp_path / "teleinforeader.toml",
        {
            "source": {
                "type": "serial",
                "device": meter.url,
                "mode": "historic",
                "silence_timeout": silence_timeout,
            },
            **sections,
            "server": {"enabled": False},
            "http": {"host": "127.0.0.1", "port": port},
            "daemon": {"state_directory": str(tmp_path / "state"), "status_interval": 1},
        },
    )
    process = DaemonProcess(config)
    try:
        process.wait_log(r"web page and API on", timeout=30)
        # The line open, not only connected: pyserial drops what comes before open() returns.
        process.wait_log(r"reading socket://", timeout=30)
        yield WebDaemon(process, port, meter)
    finally:
        if process.alive():
            process.terminate()
        meter.close()


def wait_published(daemon: WebDaemon, papp: int) -> dict[str, Any]:
    """The latest reading once it is the frame whose power is `papp`."""
    found: list[dict[str, Any]] = []

    def published() -> bool:
        response = daemon.get("/api/v1/latest")
        if response.status == 200:
            latest = json.loads(response.body)
            if latest["power"]["value"] == papp:
                found.append(latest)
                return True
        return False

    wait_for(published, 20, f"a reading with PAPP {papp}; log: {daemon.process.log[-5:]}")
    return found[0]


__all__ = ["free_port", "get"]
