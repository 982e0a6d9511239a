"""Fixtures of the socket server tests: servers on 127.0.0.1 and clients, closed at teardown."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Callable

import pytest

from teleinforeader.settings import ServerSettings
from teleinforeader.sinks.server import ServerSink
from tests.server.server_helpers import LineClient
from tests.support.sinks import started_sinks


@pytest.fixture
def start_server() -> Iterator[Callable[..., ServerSink]]:
    """Start a server on 127.0.0.1 and an ephemeral port; every one is closed at teardown."""

    def build(**settings: object) -> ServerSink:
        # Lines paced a millisecond apart: the pacing paths run, the tests stay quick.
        options: dict[str, object] = {"host": "127.0.0.1", "port": 0, "line_gap": 0.001}
        options.update(settings)
        return ServerSink(ServerSettings(**options))  # type: ignore[arg-type]

    with started_sinks(build, 1.0) as start:
        yield start


@pytest.fixture
def connect() -> Iterator[Callable[..., LineClient]]:
    clients: list[LineClient] = []

    def open_client(address: tuple[str, int], **socket_options: int) -> LineClient:
        client = LineClient(address, **socket_options)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        client.close()
