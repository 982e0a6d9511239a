"""A MariaDB server on this machine for the frames: the server, a database, a user, a password.

What the manual steps did by hand (CREATE DATABASE, CREATE USER, GRANT) done idempotently. The
password is generated once and kept in /etc/teleinforeader/db-password, readable by root and the
service's group only; it reaches MariaDB on the client's standard input, never a command line
or a shell history. The daemon connects through the server's unix socket as that user (the
unit's sandbox allows AF_UNIX), so the server need not listen on the network at all.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from teleinforeader.install.layout import LOCAL_MARIADB_MARK, PASSWORD_FILE, SERVICE_USER
from teleinforeader.install.system import Host, InstallError
from teleinforeader.install.tomledit import Value

SERVER_PACKAGE = "mariadb-server"
SERVER_UNIT = "mariadb.service"
SOCKET = "/run/mysqld/mysqld.sock"  # Debian's, on bullseye, bookworm and trixie
# What pip needs to build the mariadb extra (Connector/Python has no wheel for a Pi).
CONNECTOR_BUILD_PACKAGES = ("libmariadb-dev", "gcc", "python3-dev")


@dataclass(frozen=True)
class LocalDatabase:
    database: str = "teleinfodb"
    user: str = "teleinfo"

    def settings(self) -> dict[tuple[str, str], Value]:
        """The configuration keys that point a meter at this database."""
        return {
            ("database", "backend"): "mariadb",
            ("database.mariadb", "unix_socket"): SOCKET,
            ("database.mariadb", "user"): self.user,
            ("database.mariadb", "password"): "",
            ("database.mariadb", "password_file"): str(PASSWORD_FILE),
            ("database.mariadb", "database"): self.database,
        }

    def grant_sql(self, password: str) -> str:
        """Creates what is missing and sets the password, whatever existed before."""
        account = f"{quote(self.user)}@'localhost'"
        return (
            f"CREATE DATABASE IF NOT EXISTS {identifier(self.database)} "
            "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;\n"
            f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY {quote(password)};\n"
            f"ALTER USER {account} IDENTIFIED BY {quote(password)};\n"
            f"GRANT ALL PRIVILEGES ON {identifier(self.database)}.* TO {account};\n"
        )

    def drop_sql(self) -> str:
        return (
            f"DROP DATABASE IF EXISTS {identifier(self.database)};\n"
            f"DROP USER IF EXISTS {quote(self.user)}@'localhost';\n"
        )


# MariaDB Connector/Python 1.1 needs Connector/C 3.2.4 or later; Debian 11 ships 3.1, for
# which 1.0 is the last one.
CONNECTOR_C_FOR_1_1 = (3, 2, 4)
CONNECTOR_FOR_OLD_C = "mariadb>=1.0.11,<1.1"


def connector_requirement(host: Host) -> str | None:
    """A pin of the connector when this machine's Connector/C is too old for the latest (pip
    would otherwise fail to build it), else None."""
    shown = host.run(["mariadb_config", "--cc_version"], check=False).stdout.strip()
    version = tuple(int(part) for part in re.findall(r"\d+", shown)[:3])
    if version and version < CONNECTOR_C_FOR_1_1:
        host.report.kept(
            f"MariaDB Connector/C {shown} here: Connector/Python 1.0, the last to build on it"
        )
        return CONNECTOR_FOR_OLD_C
    return None


def quote(text: str) -> str:
    """A MariaDB string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def identifier(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def set_up(host: Host, database: LocalDatabase) -> None:
    """The server installed and running, the database and its user there, the password file."""
    host.ensure_packages([SERVER_PACKAGE], "the local MariaDB server")
    if host.unit_state(SERVER_UNIT) != "active":
        host.systemctl("enable", "--now", SERVER_UNIT)
        host.report.did(f"started {SERVER_UNIT}")
    password, created = _password(host)
    host.run(client_command(), stdin=database.grant_sql(password))
    host.write_file(LOCAL_MARIADB_MARK, f"{database.database} {database.user}\n", mode=0o644)
    how = "a new password" if created else "the password"
    host.report.did(
        f"MariaDB database {database.database!r} and user {database.user!r}, with {how} "
        f"in {PASSWORD_FILE} (readable by root and {SERVICE_USER} only)"
    )


def created_by_installer() -> LocalDatabase | None:
    """The database and user `set_up` created here, from its mark; None if it did not."""
    try:
        name, user = LOCAL_MARIADB_MARK.read_text(encoding="utf-8").split()
    except (OSError, ValueError):
        return None
    return LocalDatabase(name, user)


def drop(host: Host, database: LocalDatabase) -> None:
    if host.unit_state(SERVER_UNIT) != "active":
        raise InstallError(f"{SERVER_UNIT} is not running: cannot drop {database.database!r}")
    host.run(client_command(), stdin=database.drop_sql())


def _password(host: Host) -> tuple[str, bool]:
    """The password in the password file, or a new one written there; and whether it is new."""
    try:
        password = PASSWORD_FILE.read_text(encoding="utf-8").rstrip("\n")
    except FileNotFoundError:
        password = ""
    if password:
        return password, False
    password = secrets.token_urlsafe(24)
    host.write_file(PASSWORD_FILE, password + "\n", mode=0o640, group=SERVICE_USER)
    return password, True


def client_command(socket: str = SOCKET) -> list[str]:
    """The command-line client, as root through the server's unix socket (Debian gives root
    unix_socket authentication: no password involved); the SQL goes on its standard input."""
    for name in ("mariadb", "mysql"):
        for directory in ("/usr/bin", "/bin"):
            if Path(directory, name).is_file():
                program = str(Path(directory, name))
                return [program, "--protocol=socket", f"--socket={socket}", "--user=root"]
    raise InstallError("the MariaDB client (mariadb) is missing: apt install mariadb-client")
