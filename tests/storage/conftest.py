"""The `storage` fixture: each test runs once on SQLite and once on the throwaway MariaDB
server, with a way to take the database away and bring it back."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from teleinforeader.settings import DatabaseSettings
from teleinforeader.sinks.database.mariadb import MariaDBBackend
from teleinforeader.sinks.database.sqlite import SQLiteBackend
from tests.storage.helpers import Storage, mariadb_settings
from tests.support.mariadb_server import MariaDBServer


@pytest.fixture(params=["sqlite", "mariadb"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    state_directory = tmp_path / "state"
    if request.param == "sqlite":
        path = state_directory / "frames.sqlite3"
        settings = DatabaseSettings(backend="sqlite", sqlite_path=str(path), reader="pi-test")
        blocker: list[sqlite3.Connection] = []

        def lock() -> None:  # another process holding the write lock: writes fail
            connection = sqlite3.connect(str(path), isolation_level=None)
            connection.execute("BEGIN EXCLUSIVE")
            blocker.append(connection)

        def unlock() -> None:
            blocker.pop().close()

        result = Storage(
            "sqlite",
            state_directory,
            settings,
            lambda: SQLiteBackend(path, busy_timeout=0.1),
            lock,
            unlock,
        )
    else:
        server: MariaDBServer = request.getfixturevalue("mariadb_server")
        database = request.getfixturevalue("mariadb_database")
        mariadb = mariadb_settings(server, database)
        settings = DatabaseSettings(backend="mariadb", reader="pi-test", mariadb=mariadb)
        result = Storage(
            "mariadb",
            state_directory,
            settings,
            lambda: MariaDBBackend(mariadb),
            server.stop,
            server.start,
        )
    yield result
    for sink in result.sinks:
        sink.close(5)
