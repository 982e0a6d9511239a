"""Versioned schema: ordered migrations, then columns for labels added to the label table.

A migration is a numbered list of idempotent statements; `schema_version` records the ones
applied, and `upgrade` runs the missing ones in order. `schema_version` says what was done, not
what is there: after the migrations, `upgrade` compares what exists with what should. A table
dropped by hand (a user clearing history) is created again, and since label columns come from
the label table, a label added later would silently be missing from an existing table: every
column a table lacks is added (nullable, so old rows stay valid).
Both backends share the statements; a `Dialect` holds what differs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Callable

from teleinforeader.record import Record
from teleinforeader.sinks.database.schema import (
    INTEGER,
    JSON_TEXT,
    TABLES,
    TEXT,
    TIMESTAMP,
    Column,
    Table,
)

log = logging.getLogger(__name__)

VERSION_TABLE = "schema_version"


class Dialect(Record):
    """What one SQL backend spells differently."""

    name: str
    quote_char: str
    types: dict[str, str]  # logical type -> SQL type; "{length}" is filled in for TEXT
    insert: str  # how an insert starts
    on_duplicate: str  # how it ends so that a row whose key exists is skipped, nothing else
    table_options: str
    comments: bool  # column comments (MariaDB: the schema documents itself)

    def quote(self, identifier: str) -> str:
        q = self.quote_char
        return q + identifier.replace(q, q + q) + q

    def column_sql(self, column: Column, table: Table) -> str:
        sql = f"{self.quote(column.name)} {self.types[column.type].format(length=column.length)}"
        if column.name in table.key:
            sql += " NOT NULL"
        if self.comments and column.description:
            sql += " COMMENT " + sql_string(column.description)
        return sql

    def insert_sql(self, table: Table) -> str:
        names = ", ".join(self.quote(name) for name in table.column_names)
        marks = ", ".join("?" for _ in table.columns)
        return self.insert_into(table.name, names, marks, table.key[0])

    def insert_into(self, table: str, names: str, values: str, key: str) -> str:
        on_duplicate = self.on_duplicate.format(key=self.quote(key))
        return f"{self.insert} {self.quote(table)} ({names}) VALUES ({values}){on_duplicate}"


def sql_string(text: str) -> str:
    """A literal for DDL only (comments): rows are always bound parameters."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


MARIADB = Dialect(
    name="mariadb",
    quote_char="`",
    types={TIMESTAMP: "DATETIME(6)", INTEGER: "INT", TEXT: "VARCHAR({length})", JSON_TEXT: "TEXT"},
    # Not INSERT IGNORE: it would also turn a too-long value into a silent truncation.
    insert="INSERT INTO",
    on_duplicate=" ON DUPLICATE KEY UPDATE {key} = {key}",
    table_options=" ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    comments=True,
)
SQLITE = Dialect(
    name="sqlite",
    quote_char='"',
    # Timestamps as ISO text: they sort and compare like DATETIME, so the same BETWEEN works.
    types={TIMESTAMP: "TEXT", INTEGER: "INTEGER", TEXT: "TEXT", JSON_TEXT: "TEXT"},
    # Not INSERT OR IGNORE: it also ignores a NOT NULL violation, silently losing the row.
    insert="INSERT INTO",
    on_duplicate=" ON CONFLICT DO NOTHING",
    table_options="",
    comments=False,
)


def create_table_sql(dialect: Dialect, table: Table) -> list[str]:
    q = dialect.quote
    lines = [dialect.column_sql(column, table) for column in table.columns]
    lines.append(f"PRIMARY KEY ({', '.join(q(name) for name in table.key)})")
    return [
        f"CREATE TABLE IF NOT EXISTS {q(table.name)} (\n    "
        + ",\n    ".join(lines)
        + f"\n){dialect.table_options}",
        # One reader's rows over time: what a shared database is queried by.
        f"CREATE INDEX IF NOT EXISTS {q(table.name + '_by_reader')} "
        f"ON {q(table.name)} ({q('reader')}, {q('timestamp')})",
    ]


def version_table_sql(dialect: Dialect) -> str:
    applied_type = dialect.types[TIMESTAMP]
    return (
        f"CREATE TABLE IF NOT EXISTS {dialect.quote(VERSION_TABLE)} (\n"
        f"    version INTEGER NOT NULL PRIMARY KEY,\n"
        f"    description VARCHAR(200) NOT NULL,\n"
        f"    applied_at {applied_type} NOT NULL\n"
        f"){dialect.table_options}"
    )


class Migration(Record):
    version: int
    description: str
    statements: Callable[[Dialect], list[str]]


def _create_frame_tables(dialect: Dialect) -> list[str]:
    return [sql for table in TABLES.values() for sql in create_table_sql(dialect, table)]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "frame tables for both TIC modes", _create_frame_tables),
)
LATEST_VERSION = MIGRATIONS[-1].version


def record_version_sql(dialect: Dialect, values: str = "?, ?, ?") -> str:
    return dialect.insert_into(VERSION_TABLE, "version, description, applied_at", values, "version")


def add_column_sql(dialect: Dialect, table: Table, column: Column) -> str:
    if_not_exists = " IF NOT EXISTS" if dialect is MARIADB else ""
    return (
        f"ALTER TABLE {dialect.quote(table.name)} "
        f"ADD COLUMN{if_not_exists} {dialect.column_sql(column, table)}"
    )


def full_script(dialect: Dialect) -> list[str]:
    """Every statement `upgrade` could run, idempotent, for a DBA to read and apply."""
    statements = [version_table_sql(dialect)]
    for migration in MIGRATIONS:
        statements += migration.statements(dialect)
    if dialect is MARIADB:  # only MariaDB can add a column "if not exists" in plain SQL
        for table in TABLES.values():
            statements += [add_column_sql(dialect, table, column) for column in table.columns]
    statements += [
        record_version_sql(dialect, f"{m.version}, {sql_string(m.description)}, CURRENT_TIMESTAMP")
        for m in MIGRATIONS
    ]
    return statements


def applied_versions(cursor: object) -> set[int]:
    cursor.execute(f"SELECT version FROM {VERSION_TABLE}")  # type: ignore[attr-defined]
    return {int(row[0]) for row in cursor.fetchall()}  # type: ignore[attr-defined]


def upgrade(
    connection: object,
    dialect: Dialect,
    existing_columns: Callable[[object, str], Iterable[str]],
    now: str,
) -> list[str]:
    """Bring the schema to the latest version; return what was done (empty: up to date)."""
    done: list[str] = []
    cursor = connection.cursor()  # type: ignore[attr-defined]
    cursor.execute(version_table_sql(dialect))
    applied = applied_versions(cursor)
    for migration in MIGRATIONS:
        if migration.version in applied:
            continue
        for statement in migration.statements(dialect):
            cursor.execute(statement)
        cursor.execute(record_version_sql(dialect), (migration.version, migration.description, now))
        connection.commit()  # type: ignore[attr-defined]
        done.append(f"schema version {migration.version}: {migration.description}")
    for table in TABLES.values():
        present = set(existing_columns(cursor, table.name))
        if not present:  # recorded as created, but dropped since (history cleared by hand)
            for statement in create_table_sql(dialect, table):
                cursor.execute(statement)
            done.append(f"table {table.name} created (it was missing)")
            continue
        for column in table.columns:
            if column.name not in present:
                cursor.execute(add_column_sql(dialect, table, column))
                done.append(f"column {table.name}.{column.name} added")
    connection.commit()  # type: ignore[attr-defined]
    for line in done:
        log.info("database upgrade: %s", line)
    return done
