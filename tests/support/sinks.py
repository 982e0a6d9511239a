"""Sinks started by a test fixture, closed at its teardown."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Callable, TypeVar

from teleinforeader.sinks.base import Sink

S = TypeVar("S", bound=Sink)


@contextmanager
def started_sinks(build: Callable[..., S], timeout: float) -> Iterator[Callable[..., S]]:
    """For a fixture to yield from: a `start(...)` that builds a sink with `build(...)` and
    starts it. At the end every one is closed (`timeout` seconds) and must not have crashed."""
    sinks: list[S] = []

    def start(*args: object, **kwargs: object) -> S:
        sink = build(*args, **kwargs)
        sink.start()
        sinks.append(sink)
        return sink

    yield start
    for sink in sinks:
        sink.close(timeout)
        assert sink.status().alive, f"the {type(sink).__name__} thread crashed"
