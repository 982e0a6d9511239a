"""`teleinforeader db init|stats`: create or upgrade the database, and see what it holds.

`db init` replaces the hand-written DDL of old: it creates the database (MariaDB), the tables
and brings an existing schema to the latest version, idempotently; `--print-sql` prints the
same statements for a DBA to apply instead. With `[database] teleinfomonitor`, it also maps the
rows stored before the setting (sinks/database/backfill.py). `db stats` prints rows, time span
and size.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from teleinforeader.cli import add_config_arguments, settings_from_args

EXIT_DATABASE = 1  # the database could not be reached or refused the statements


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="db_action", metavar="ACTION", required=True)
    init = actions.add_parser(
        "init", help="create the database and tables, or upgrade them (idempotent)"
    )
    add_config_arguments(init)
    init.add_argument(
        "--print-sql",
        action="store_true",
        help="print the SQL instead of running it (for a DBA to apply)",
    )
    stats = actions.add_parser("stats", help="rows, time span and size of the stored frames")
    add_config_arguments(stats)


def run(args: argparse.Namespace) -> int:
    from teleinforeader.sinks.database import create_backend
    from teleinforeader.statedir import resolve_state_directory

    settings = settings_from_args(args)
    database = settings.database
    if database.backend == "none":
        sys.stderr.write('teleinforeader db: database.backend is "none": nothing to do\n')
        return EXIT_DATABASE
    if args.db_action == "init" and args.print_sql:
        print(_script(database))
        return 0
    try:
        backend = create_backend(database, resolve_state_directory(settings.daemon.state_directory))
    except (RuntimeError, OSError) as exc:  # the connector missing, the directory unusable
        sys.stderr.write(f"teleinforeader db: {exc}\n")
        return EXIT_DATABASE
    try:
        connection = backend.connect(create=args.db_action == "init")
    except Exception as exc:  # connector errors have no common base we could import eagerly
        sys.stderr.write(
            f"teleinforeader db: cannot open the database {backend.description}: {exc}\n"
        )
        return EXIT_DATABASE
    try:
        if args.db_action == "init":
            return _init(backend, connection, database.teleinfomonitor)
        return _stats(backend, connection)
    except Exception as exc:
        sys.stderr.write(f"teleinforeader db {args.db_action}: {backend.description}: {exc}\n")
        return EXIT_DATABASE
    finally:
        connection.close()


def _script(database: Any) -> str:
    from teleinforeader.sinks.database import migrations

    dialect = migrations.MARIADB if database.backend == "mariadb" else migrations.SQLITE
    statements = []
    if database.backend == "mariadb":
        name = dialect.quote(database.mariadb.database)
        statements += [f"CREATE DATABASE IF NOT EXISTS {name} CHARACTER SET utf8mb4", f"USE {name}"]
    statements += migrations.full_script(dialect)
    return ";\n\n".join(statements) + ";"


def _init(backend: Any, connection: Any, teleinfomonitor: bool) -> int:
    from teleinforeader.sinks.database.migrations import LATEST_VERSION

    done = backend.upgrade(connection)
    for line in done:
        print(line)
    state = "created or upgraded" if done else "already up to date"
    print(f"{backend.description}: {state}, schema version {LATEST_VERSION}")
    if teleinfomonitor:
        from teleinforeader.sinks.database.backfill import backfill

        print(
            f"TeleInfoMonitor's columns: {backfill(connection, backend.dialect)} older rows mapped"
        )
    return 0


def _stats(backend: Any, connection: Any) -> int:
    tables, size = backend.stats(connection)
    print(backend.description)
    for table in tables:
        span = f"{table.first} .. {table.last}" if table.rows else "-"
        print(f"  {table.table}: {table.rows} rows, {span}")
    print(f"  size: {_human(size)} ({size} bytes)")
    return 0


def _human(size: int) -> str:
    units = ("B", "KiB", "MiB", "GiB")
    value, index = float(size), 0
    while value >= 1024 and index < len(units) - 1:
        value, index = value / 1024, index + 1
    return f"{value:.1f} {units[index]}"
