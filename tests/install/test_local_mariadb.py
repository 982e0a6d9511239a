"""The statements that set up (and remove) the local database, run by the real `mariadb` client
on a real server, as the installer runs them: on the client's standard input, never in its
arguments."""

from __future__ import annotations

import subprocess

import pytest

from teleinforeader.install.mariadb import LocalDatabase, client_command, quote
from tests.support.mariadb_server import MariaDBServer

pytestmark = pytest.mark.mariadb


def run_sql(server: MariaDBServer, sql: str) -> None:
    subprocess.run(
        client_command(str(server.socket_path)), input=sql, text=True, check=True, timeout=60
    )


def connects(server: MariaDBServer, database: LocalDatabase, password: str) -> bool:
    import mariadb

    try:
        connection = mariadb.connect(
            user=database.user,
            password=password,
            unix_socket=str(server.socket_path),
            database=database.database,
        )
    except mariadb.Error:
        return False
    try:
        cursor = connection.cursor()
        cursor.execute("CREATE TABLE IF NOT EXISTS probe (n INT)")  # its privileges there
    finally:
        connection.close()
    return True


def test_set_up_twice_then_dropped(mariadb_server: MariaDBServer, mariadb_database: str) -> None:
    database = LocalDatabase(mariadb_database, "teleinfo_installer")
    first = "a 'quoted' \\ password"
    run_sql(mariadb_server, database.grant_sql(first))
    assert connects(mariadb_server, database, first)
    second = "another-one"  # a new password file: the account follows it
    run_sql(mariadb_server, database.grant_sql(second))
    assert connects(mariadb_server, database, second)
    assert not connects(mariadb_server, database, first)
    run_sql(mariadb_server, database.drop_sql())
    assert not connects(mariadb_server, database, second)
    run_sql(mariadb_server, database.drop_sql())  # and again: nothing left to drop is no error


def test_literals_are_escaped() -> None:
    assert quote("it's \\ here") == "'it\\'s \\\\ here'"
