"""The throwaway server itself: it serves, stops, and comes back with its data."""

from __future__ import annotations

import mariadb
import pytest

from tests.support.mariadb_server import MariaDBServer

pytestmark = pytest.mark.mariadb


def test_server_survives_stop_and_kill_with_its_data(
    mariadb_server: MariaDBServer, mariadb_database: str
) -> None:
    root = mariadb_server.root_connection()
    root.cursor().execute(f"CREATE DATABASE `{mariadb_database}`")
    root.close()
    connection = mariadb.connect(**mariadb_server.connect_arguments(mariadb_database))
    cursor = connection.cursor()
    cursor.execute("CREATE TABLE t (v INT) ENGINE=InnoDB")
    cursor.execute("INSERT INTO t VALUES (?)", (42,))
    connection.commit()
    connection.close()

    mariadb_server.kill()
    assert not mariadb_server.running
    with pytest.raises(mariadb.Error):
        mariadb.connect(connect_timeout=2, **mariadb_server.connect_arguments(mariadb_database))
    mariadb_server.start()

    connection = mariadb.connect(**mariadb_server.connect_arguments(mariadb_database))
    cursor = connection.cursor()
    cursor.execute("SELECT v FROM t")
    assert cursor.fetchall() == [(42,)]
    connection.close()
