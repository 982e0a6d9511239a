"""The web page, the JSON API, /metrics and /healthz (see docs/http.md): `create_sink`.

Light on purpose: the server and what it imports load only when `[http] enabled` is true.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from teleinforeader.sinks import SinkContext
    from teleinforeader.sinks.http.sink import HttpSink


def create_sink(context: SinkContext) -> HttpSink | None:
    """The daemon's factory entry (see `teleinforeader.sinks`); None when disabled.

    Raises ValueError for a malformed `allow` entry; the port is bound in `start()`.
    """
    settings = context.settings
    if not settings.http.enabled:
        return None
    from functools import partial

    from teleinforeader.sinks.database import create_backend
    from teleinforeader.sinks.database.history import History
    from teleinforeader.sinks.database.schema import reader_name
    from teleinforeader.sinks.http.sink import HttpSink

    database = settings.database
    history = None
    if database.backend != "none":  # the history reads what the database writer stores
        backend = create_backend(database, context.state_directory)
        history = partial(History, backend, reader_name(database.reader))
    return HttpSink(
        settings.http,
        context.pipeline,
        silence_timeout=settings.source.silence_timeout,
        history=history,
    )
