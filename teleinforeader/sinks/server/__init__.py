"""The TCP JSON-lines broadcast (see docs/protocol.md): `create_sink` for the daemon."""

from __future__ import annotations

from typing import TYPE_CHECKING

from teleinforeader.settings import ServerSettings
from teleinforeader.sinks.server.sink import ServerSink

if TYPE_CHECKING:
    from teleinforeader.sinks import SinkContext


def create_sink(context: SinkContext) -> ServerSink | None:
    """The daemon's factory entry (see `teleinforeader.sinks`)."""
    return create_server_sink(context.settings.server)


def create_server_sink(settings: ServerSettings) -> ServerSink | None:
    """The server sink for `settings`, or None when `[server] enabled = false`.

    Raises ValueError for a malformed `allow` entry; binding the port happens in `start()`
    (and raises OSError there, e.g. when the port is taken).
    """
    if not settings.enabled:
        return None
    return ServerSink(settings)


__all__ = ["ServerSink", "create_server_sink", "create_sink"]
