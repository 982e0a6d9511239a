"""Fixtures every test directory may use: the throwaway MariaDB server.

`make test` installs mariadb-server, so a missing server is a failure, not a skip; a developer
without it may set TELEINFOREADER_SKIP_MARIADB=1 to skip the tests marked `mariadb` explicitly.
"""

from __future__ import annotations

import itertools
import os
import signal
from collections.abc import Iterator

import pytest

from tests.support.mariadb_server import SKIP_VARIABLE, MariaDBServer

_database_names = itertools.count(1)


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C reaches the commands the tests start as it would from a terminal. A suite started
    in the background by a non-interactive shell (`make test &`, some CI runners) ignores
    SIGINT, and an ignored signal stays ignored in every child: the tests of Ctrl-C would then
    wait for nothing. A handled one is reset to its default in a child."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def mariadb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDBServer]:
    """One server for the whole session; tests may stop, kill and restart it (it is restarted
    for the next test by `mariadb_database`)."""
    if os.environ.get(SKIP_VARIABLE) == "1":
        pytest.skip(f"{SKIP_VARIABLE}=1: MariaDB tests skipped on request")
    server = MariaDBServer(tmp_path_factory.mktemp("mariadb"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mariadb_database(mariadb_server: MariaDBServer) -> Iterator[str]:
    """The name of a database no other test uses (not created: `db init` creates it)."""
    if not mariadb_server.running:
        mariadb_server.start()
    name = f"teleinfo_test_{os.getpid()}_{next(_database_names)}"
    yield name
    if not mariadb_server.running:  # a test left it stopped: bring it back for the next
        mariadb_server.start()
    connection = mariadb_server.root_connection()
    try:
        connection.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        connection.close()


@pytest.fixture
def teleinfodb(mariadb_server: MariaDBServer) -> Iterator[str]:
    """The database TeleInfoMonitor's query names (`teleinfodb.teleinfoframes`, hard-coded
    there), emptied before and after: the throwaway server is this test session's own."""

    def drop() -> None:
        if not mariadb_server.running:
            mariadb_server.start()
        connection = mariadb_server.root_connection()
        try:
            connection.cursor().execute("DROP DATABASE IF EXISTS teleinfodb")
        finally:
            connection.close()

    drop()
    yield "teleinfodb"
    drop()
