"""Where frames go: the database writer, the socket server, stdout, and any sink added beside them.

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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from teleinforeader.settings import Settings
    from teleinforeader.sinks.base import Sink

SINK_PACKAGES = ("database", "server")


@dataclass(frozen=True)
class SinkContext:
    """What a sink factory may use: the whole settings and the daemon's state directory."""

    settings: Settings
    state_directory: Path


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
