"""Frames into MariaDB or SQLite: schema, migrations, backends, spool and the writer sink.

`create_sink` is what the daemon calls; `create_backend` is what `db init` and
`db stats` use. Backends are imported only when chosen (Connector/Python is an extra).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from teleinforeader.settings import DatabaseSettings

if TYPE_CHECKING:
    from teleinforeader.sinks import SinkContext
    from teleinforeader.sinks.base import Sink
    from teleinforeader.sinks.database.backend import Backend

BACKENDS = ("sqlite", "mariadb", "none")


def sqlite_path(settings: DatabaseSettings, state_directory: str | os.PathLike[str]) -> str:
    """`sqlite_path` as configured; a relative one lives in the state directory."""
    return os.path.join(state_directory, os.path.expanduser(settings.sqlite_path))


def create_backend(settings: DatabaseSettings, state_directory: str | os.PathLike[str]) -> Backend:
    """The configured backend; ValueError for "none" or an unknown name."""
    if settings.backend == "sqlite":
        from teleinforeader.sinks.database.sqlite import SQLiteBackend

        return SQLiteBackend(sqlite_path(settings, state_directory))
    if settings.backend == "mariadb":
        from teleinforeader.sinks.database.mariadb import MariaDBBackend

        return MariaDBBackend(settings.mariadb)
    raise ValueError(
        f"database.backend = {settings.backend!r}: no database to use "
        f"(expected one of {', '.join(BACKENDS)})"
    )


def create_database_sink(
    settings: DatabaseSettings, state_directory: str | os.PathLike[str]
) -> Sink | None:
    """The database writer for `settings`, spooling into `state_directory`; None for "none".

    Raises RuntimeError when the MariaDB connector is not installed.
    """
    if settings.backend == "none":
        return None
    from teleinforeader.sinks.database.writer import DatabaseSink

    return DatabaseSink(
        create_backend(settings, state_directory),
        settings,
        state_directory,
        reconnect_delay=settings.reconnect_delay,
        reconnect_max_delay=settings.reconnect_max_delay,
    )


def create_sink(context: SinkContext) -> Sink | None:
    """The daemon's factory entry (see `teleinforeader.sinks`)."""
    return create_database_sink(context.settings.database, context.state_directory)
