"""Where frames go: the database writer, the socket server, the web page, stdout, and any sink
added beside them.

Every sink that the configuration turns on is a package here that offers
`create_sink(context: SinkContext) -> Sink | None` (None when its section leaves it off).
`SINK_PACKAGES` names them in the order the pipeline feeds them; `create_sinks` imports each
package and asks it. A package's `__init__` stays light (settings only): what a sink needs to run
(a database connector, an MQTT client) is imported inside `create_sink`, once it is enabled, so a
Pi Zero never pays at start-up for a sink it does not use. Adding a sink is adding its package,
its settings section, and its name here.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from teleinforeader.settings import Settings
    from teleinforeader.sinks.base import Sink, SinkStatus

SINK_PACKAGES = ("database", "server", "http", "mqtt")


class Pipeline(Protocol):
    """What the daemon shows of itself (`teleinforeader.daemon.Daemon` is one)."""

    sinks: Sequence[Sink]

    def counters(self) -> dict[str, int]: ...


class PipelineView:
    """The running pipeline as a sink that reports on it (the web page, /metrics) reads it.

    Sinks are built before the daemon that feeds them, so the daemon is bound here afterwards
    (`bind`); until then the view reads as a pipeline with no counters and no sinks. Reading
    it from a sink's own thread is safe: the daemon's `counters()` and each sink's `status()`
    are made to be read from its supervising thread, and never block it for long.
    """

    def __init__(self) -> None:
        self._pipeline: Pipeline | None = None

    def bind(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline

    def counters(self) -> dict[str, int]:
        """Decoder, guard and queue counters (`Daemon.counters`), empty before `bind`."""
        return {} if self._pipeline is None else self._pipeline.counters()

    def sink_statuses(self) -> list[tuple[str, SinkStatus]]:
        """Every sink's name and status, in the order the pipeline feeds them."""
        if self._pipeline is None:
            return []
        return [(sink.name, sink.status()) for sink in self._pipeline.sinks]


class SinkContext:
    """What a sink factory may use: the whole settings, the daemon's state directory, and a
    view of the pipeline bound once the daemon exists."""

    __slots__ = ("pipeline", "settings", "state_directory")

    def __init__(
        self,
        settings: Settings,
        state_directory: str | os.PathLike[str],
        pipeline: PipelineView | None = None,
    ) -> None:
        self.settings = settings
        self.state_directory = state_directory
        self.pipeline = PipelineView() if pipeline is None else pipeline


def create_sinks(context: SinkContext) -> list[Sink]:
    """Every enabled sink, in `SINK_PACKAGES` order.

    Raises ValueError for a setting only a sink can judge, RuntimeError for a missing extra
    (the MariaDB connector, ...); the daemon reports either in one line and exits 78.
    """
    sinks: list[Sink] = []
    for package in SINK_PACKAGES:
        module = importlib.import_module(f"{__name__}.{package}")
        sink = module.create_sink(context)
        if sink is not None:
            sinks.append(sink)
    return sinks
