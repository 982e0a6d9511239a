"""A throwaway MariaDB server for tests and benchmarks: never the user's real one.

Plan: `mariadb-install-db` into a temporary data directory, `mariadbd` on a free loopback port
with its own socket, a password user for the client under test, then SIGTERM (or SIGKILL, for
fault tests) and start again on the same port and data, so an outage looks like one to a client.
Only the standard library and the `mariadb` connector (for the readiness probe) are used, so the
benchmarks can reuse this module without pytest.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from tests.support.server_process import (
    ServerProcess,
    ServerUnavailableError,
    find_program,
    free_port,
)

USER = "teleinfo_test"
PASSWORD = "test-pass'word"  # a quote on purpose: the password is never pasted into SQL
SKIP_VARIABLE = "TELEINFOREADER_SKIP_MARIADB"
PACKAGE = "mariadb-server"


class MariaDBServer(ServerProcess):
    """One `mariadbd` process on 127.0.0.1:`port` with its data in `base_directory`."""

    name = "mariadbd"

    def __init__(
        self,
        base_directory: Path,
        startup_timeout: float = 30.0,
        server_options: Sequence[str] = (),
    ) -> None:
        super().__init__(base_directory / "error.log")
        self.base_directory = base_directory
        self.server_options = tuple(server_options)  # e.g. --ssl-cert=... for TLS tests
        self.data_directory = base_directory / "data"
        self.socket_path = base_directory / "mariadbd.sock"
        self.port = free_port()
        self.host = "127.0.0.1"
        self.user = USER
        self.password = PASSWORD
        self.startup_timeout = startup_timeout

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Initialise the data directory on first use, start the server, wait until it serves."""
        first_start = not self.data_directory.exists()
        if first_start:
            self._install()
        command = [
            find_program("mariadbd", "mysqld", package=PACKAGE),
            "--no-defaults",
            f"--datadir={self.data_directory}",
            f"--socket={self.socket_path}",
            f"--pid-file={self.base_directory / 'mariadbd.pid'}",
            f"--log-error={self.log_path}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=64M",
            "--innodb-log-file-size=64M",
            *self._user_option(),
            *self.server_options,
        ]
        self._launch(command, self._serving, self.startup_timeout)
        if first_start:
            self._create_test_user()

    # -- what a client needs -----------------------------------------------------------------

    def connect_arguments(self, database: str | None = None) -> dict[str, object]:
        """Keyword arguments for `mariadb.connect` as the test user over TCP."""
        arguments: dict[str, object] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
        }
        if database:
            arguments["database"] = database
        return arguments

    def root_connection(self):  # type: ignore[no-untyped-def]
        """A connection as the server's root user, over the socket (administration in tests)."""
        import mariadb

        return mariadb.connect(user="root", unix_socket=str(self.socket_path), autocommit=True)

    # -- internals ---------------------------------------------------------------------------

    @staticmethod
    def _user_option() -> list[str]:
        # mariadbd refuses to run as root unless told to; as another user it needs nothing.
        return ["--user=root"] if os.geteuid() == 0 else []

    def _install(self) -> None:
        self.base_directory.mkdir(parents=True, exist_ok=True)
        command = [
            find_program("mariadb-install-db", "mysql_install_db", package=PACKAGE),
            "--no-defaults",
            f"--datadir={self.data_directory}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            *self._user_option(),
        ]
        result = subprocess.run(command, capture_output=True, check=False)
        if result.returncode != 0:
            raise ServerUnavailableError(
                f"{command[0]} failed ({result.returncode}): "
                + result.stderr.decode(errors="replace")[-2000:]
            )

    def _serving(self) -> bool:
        import mariadb

        try:
            mariadb.connect(
                user="root", unix_socket=str(self.socket_path), connect_timeout=1
            ).close()
        except mariadb.Error:
            return False
        return True

    def _create_test_user(self) -> None:
        connection = self.root_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(f"CREATE USER '{self.user}'@'%' IDENTIFIED BY ?", (self.password,))
            cursor.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{self.user}'@'%'")
        finally:
            connection.close()
