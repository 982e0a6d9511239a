"""SQLite (standard library, WAL): the embedded default, nothing to install or run."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from typing import Any

from teleinforeader.sinks.database.backend import AWAY, ROW, SCHEMA, Backend
from teleinforeader.sinks.database.migrations import SQLITE

# OperationalError messages of a missing table or column (SQLite gives no finer code before
# Python 3.11's sqlite_errorcode, and then only SQLITE_ERROR).
_SCHEMA_MESSAGES = ("no such table", "no such column", "has no column named")


class SQLiteBackend(Backend):
    dialect = SQLITE

    def __init__(self, path: str | os.PathLike[str], busy_timeout: float = 30.0) -> None:
        self.path = path
        self.busy_timeout = busy_timeout  # seconds to wait for another writer's lock
        self._identity: tuple[int, int] | None = None  # (device, inode) of the file opened

    @property
    def description(self) -> str:
        return f"SQLite {self.path}"

    def connect(self, create: bool = True) -> sqlite3.Connection:
        if create:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        elif not os.path.exists(self.path):
            raise sqlite3.OperationalError(f"no database at {self.path} (run `db init`)")
        connection = sqlite3.connect(str(self.path), timeout=self.busy_timeout)
        try:
            # WAL: readers (db stats, dashboards) never block the writer. FULL: a commit
            # survives a power cut, and commits are seconds apart, so it costs little.
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error:
            connection.close()
            raise
        self._identity = self._stat()
        return connection

    def _stat(self) -> tuple[int, int] | None:
        try:
            status = os.stat(self.path)
        except OSError:
            return None
        return status.st_dev, status.st_ino

    def file_changed(self) -> str:
        """A connection keeps writing into a file deleted or renamed under it (a user starting
        afresh, a rotation): rows committed there are lost to the daemon's file."""
        if self._identity is None:
            return ""
        now = self._stat()
        if now == self._identity:
            return ""
        return "deleted" if now is None else "replaced by another file"

    def connect_read_only(self) -> sqlite3.Connection:
        # mode=ro: never creates the file; query_only: refuses a write even by mistake. Python's
        # sqlite3 opens no transaction for a SELECT, so each query reads the latest commit.
        from pathlib import Path  # for the URI: read-only connections open after the start

        uri = f"{Path(self.path).resolve().as_uri()}?mode=ro"
        connection = sqlite3.connect(uri, uri=True, timeout=self.busy_timeout)
        try:
            connection.execute("PRAGMA query_only=1")
        except sqlite3.Error:
            connection.close()
            raise
        return connection

    def existing_columns(self, cursor: Any, table: str) -> Iterable[str]:
        cursor.execute(f"PRAGMA table_info({self.dialect.quote(table)})")
        return [row[1] for row in cursor.fetchall()]

    def size_bytes(self, cursor: Any) -> int:
        cursor.execute("PRAGMA page_count")
        pages = cursor.fetchone()[0]
        cursor.execute("PRAGMA page_size")
        return int(pages) * int(cursor.fetchone()[0])

    def error_kind(self, error: BaseException) -> str | None:
        if isinstance(error, (sqlite3.IntegrityError, sqlite3.DataError)):
            return ROW  # a constraint (a NULL key, a trigger's RAISE), a value too big
        if isinstance(error, (OverflowError, UnicodeError)):
            return ROW  # a value SQLite cannot hold: raised while binding it
        if isinstance(error, (sqlite3.InterfaceError, sqlite3.ProgrammingError)):
            # "Error binding parameter N": a value of a type SQLite cannot store.
            return ROW if "binding parameter" in str(error) else None
        if isinstance(error, sqlite3.OperationalError):
            message = str(error)
            if any(text in message for text in _SCHEMA_MESSAGES):
                return SCHEMA
            return AWAY  # locked, busy, disk full, I/O error, read-only: the file will be back
        return None
