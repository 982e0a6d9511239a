"""MariaDB through Connector/Python (the `mariadb` extra): local, remote, TLS."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from teleinforeader.settings import MariaDBSettings
from teleinforeader.sinks.database.backend import AWAY, ROW, SCHEMA, Backend
from teleinforeader.sinks.database.migrations import MARIADB

UNKNOWN_DATABASE = 1049  # ER_BAD_DB_ERROR
# Server and client error codes that mean "not now", whatever the exception class: the
# connection is lost or refused, the server is shutting down, busy, full or denies access.
AWAY_ERRORS = frozenset(
    {
        1021,  # ER_DISK_FULL
        1040,  # ER_CON_COUNT_ERROR: too many connections
        1045,  # ER_ACCESS_DENIED_ERROR
        1049,  # ER_BAD_DB_ERROR: the database was dropped
        1053,  # ER_SERVER_SHUTDOWN
        1114,  # ER_RECORD_FILE_FULL: the table is full
        1142,  # ER_TABLEACCESS_DENIED_ERROR: a grant was revoked
        1205,  # ER_LOCK_WAIT_TIMEOUT
        1213,  # ER_LOCK_DEADLOCK
        1290,  # ER_OPTION_PREVENTS_STATEMENT: --read-only
        1927,  # ER_CONNECTION_KILLED
        2002,  # CR_CONNECTION_ERROR
        2003,  # CR_CONN_HOST_ERROR
        2005,  # CR_UNKNOWN_HOST
        2006,  # CR_SERVER_GONE_ERROR
        2013,  # CR_SERVER_LOST
        2026,  # CR_SSL_CONNECTION_ERROR
        2055,  # CR_SERVER_LOST_EXTENDED
        4031,  # ER_CLIENT_INTERACTION_TIMEOUT: disconnected by the server
    }
)
SCHEMA_ERRORS = frozenset({1146, 1054})  # ER_NO_SUCH_TABLE, ER_BAD_FIELD_ERROR
# SQLSTATE classes of a value or a constraint: 22 data exception (a wrong integer or datetime,
# 1366 and 1292, come as OperationalError with 22007), 23 integrity constraint violation.
ROW_SQLSTATE_CLASSES = ("22", "23")
INVALID_PARAMETER = "Invalid parameter type"  # the connector refusing to bind a value
# A statement the server stops answering must not hang the writer forever.
IO_TIMEOUT = 60


def _import_connector() -> Any:
    try:
        import mariadb
    except ImportError as exc:
        raise RuntimeError(
            "database.backend = mariadb needs MariaDB Connector/Python: "
            "pip install 'teleinforeader[mariadb]' (it builds against libmariadb-dev)"
        ) from exc
    return mariadb


class MariaDBBackend(Backend):
    dialect = MARIADB

    def __init__(self, settings: MariaDBSettings) -> None:
        self.settings = settings
        self._connector = _import_connector()

    @property
    def description(self) -> str:
        s = self.settings
        where = s.unix_socket or f"{s.host}:{s.port}"
        return f"MariaDB {s.user}@{where}/{s.database}" + (" (TLS)" if s.tls else "")

    def connect_arguments(self) -> dict[str, Any]:
        s = self.settings
        arguments: dict[str, Any] = {
            "user": s.user,
            "password": s.password,  # resolved by the configuration loader
            "connect_timeout": max(1, round(s.connect_timeout)),
            "read_timeout": IO_TIMEOUT,
            "write_timeout": IO_TIMEOUT,
            "autocommit": False,
        }
        if s.unix_socket:
            arguments["unix_socket"] = s.unix_socket
        else:
            arguments["host"] = s.host
            arguments["port"] = s.port
        if s.tls:
            arguments["ssl"] = True
            arguments["ssl_verify_cert"] = s.tls_verify
            for key, value in (("ssl_ca", s.tls_ca), ("ssl_cert", s.tls_cert)):
                if value:
                    arguments[key] = value
            if s.tls_key:
                arguments["ssl_key"] = s.tls_key
        return arguments

    def connect(self, create: bool = True) -> Any:
        connector = self._connector
        arguments = self.connect_arguments()
        try:
            return connector.connect(database=self.settings.database, **arguments)
        except connector.Error as exc:
            if not create or getattr(exc, "errno", None) != UNKNOWN_DATABASE:
                raise
        connection = connector.connect(**arguments)
        try:
            cursor = connection.cursor()
            name = self.dialect.quote(self.settings.database)
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS {name} CHARACTER SET utf8mb4")
            cursor.execute(f"USE {name}")
        except connector.Error:
            connection.close()
            raise
        return connection

    def connect_read_only(self) -> Any:
        arguments = self.connect_arguments()
        arguments["autocommit"] = True  # a long-lived reader must not sit in an old snapshot
        connection = self._connector.connect(database=self.settings.database, **arguments)
        try:
            connection.cursor().execute("SET SESSION TRANSACTION READ ONLY")
        except self._connector.Error:
            connection.close()
            raise
        return connection

    def existing_columns(self, cursor: Any, table: str) -> Iterable[str]:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ?",
            (self.settings.database, table),
        )
        return [row[0] for row in cursor.fetchall()]

    def size_bytes(self, cursor: Any) -> int:
        # The original's "size of database" query.
        cursor.execute(
            "SELECT COALESCE(SUM(data_length + index_length), 0) "
            "FROM information_schema.tables WHERE table_schema = ?",
            (self.settings.database,),
        )
        return int(cursor.fetchone()[0])

    def error_kind(self, error: BaseException) -> str | None:
        connector = self._connector
        if not isinstance(error, connector.Error):
            # The connector raises plain Python errors (a SystemError for an unencodable
            # string) when it cannot convert a value: about the row, not the server.
            return ROW if isinstance(error, (TypeError, ValueError, SystemError)) else None
        code = getattr(error, "errno", None)
        if code in AWAY_ERRORS:
            return AWAY
        if code in SCHEMA_ERRORS:
            return SCHEMA
        sqlstate = getattr(error, "sqlstate", None) or ""
        if sqlstate[:2] in ROW_SQLSTATE_CLASSES:
            return ROW
        if isinstance(error, (connector.DataError, connector.IntegrityError)):
            return ROW
        if isinstance(error, connector.ProgrammingError) and INVALID_PARAMETER in str(error):
            return ROW
        if isinstance(error, connector.InterfaceError):
            return AWAY  # the client lost the connection
        return None
