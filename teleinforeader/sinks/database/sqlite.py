"""SQLite (standard library, WAL): the embedded default, nothing to install or run."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from teleinforeader.sinks.database.backend import Backend
from teleinforeader.sinks.database.migrations import SQLITE


class SQLiteBackend(Backend):
    dialect = SQLITE

    def __init__(self, path: Path, busy_timeout: float = 30.0) -> None:
        self.path = path
        self.busy_timeout = busy_timeout  # seconds to wait for another writer's lock

    @property
    def description(self) -> str:
        return f"SQLite {self.path}"

    def connect(self, create: bool = True) -> sqlite3.Connection:
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
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
        return connection

    def connect_read_only(self) -> sqlite3.Connection:
        # mode=ro: never creates the file; query_only: refuses a write even by mistake. Python's
        # sqlite3 opens no transaction for a SELECT, so each query reads the latest commit.
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
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

    def is_data_error(self, error: BaseException) -> bool:
        # OperationalError (locked, disk full, I/O error) passes: the file will be back.
        return isinstance(error, (sqlite3.IntegrityError, sqlite3.DataError))
