"""What the writer and the `db` command need from a database, whichever it is.

A backend opens DB-API connections, knows its dialect, brings the schema up to date, tells a
row the server refuses (set aside, never retried) from a database that is away (retried) and
from a table or column that went missing (created again), each by its driver's own error
classes and codes, and measures itself for `db stats`.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from teleinforeader.record import Record
from teleinforeader.sinks.database import migrations
from teleinforeader.sinks.database.migrations import Dialect
from teleinforeader.sinks.database.schema import TABLES, format_timestamp


class TableStats(Record):
    table: str
    rows: int
    first: object  # timestamp of the oldest row, None when empty
    last: object


# What an error while writing means (`Backend.error_kind`).
ROW = "row"  # this row can never be stored: set it aside, go on with the others
SCHEMA = "schema"  # a table or column is missing (dropped by hand): create it, write again
AWAY = "away"  # the database is unreachable, busy or full: keep the rows, retry later


class Backend(abc.ABC):
    dialect: Dialect

    @property
    @abc.abstractmethod
    def description(self) -> str:
        """Where the data goes, for log lines (never a password)."""

    @abc.abstractmethod
    def connect(self, create: bool = True) -> Any:
        """A new DB-API connection; `create`: make the database itself when it is missing."""

    @abc.abstractmethod
    def connect_read_only(self) -> Any:
        """A new connection that can only read, for the history queries; each statement sees
        the latest committed rows. Raises when the database or its tables do not exist yet."""

    @abc.abstractmethod
    def existing_columns(self, cursor: Any, table: str) -> Iterable[str]: ...

    @abc.abstractmethod
    def size_bytes(self, cursor: Any) -> int: ...

    @abc.abstractmethod
    def error_kind(self, error: BaseException) -> str | None:
        """ROW, SCHEMA or AWAY for an error raised by an insert or a commit; None when the
        driver's class and code do not tell (the writer then asks `answers`)."""

    def answers(self, connection: Any) -> bool:
        """Is the connection still good? Tells an unclassified error about one row (the
        database answers) from a connection that broke."""
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchall()
        except Exception:
            return False
        return True

    def file_changed(self) -> str:
        """What happened to the database file since `connect` ("" when nothing did, and for a
        server): a SQLite file deleted or replaced under the daemon."""
        return ""

    def upgrade(self, connection: Any) -> list[str]:
        return migrations.upgrade(
            connection, self.dialect, self.existing_columns, format_timestamp(datetime.now())
        )

    def stats(self, connection: Any) -> tuple[list[TableStats], int]:
        cursor = connection.cursor()
        q = self.dialect.quote
        tables = []
        for table in TABLES.values():
            cursor.execute(
                f"SELECT COUNT(*), MIN({q('timestamp')}), MAX({q('timestamp')}) "
                f"FROM {q(table.name)}"
            )
            rows, first, last = cursor.fetchone()
            tables.append(TableStats(table.name, int(rows), first, last))
        return tables, self.size_bytes(cursor)
