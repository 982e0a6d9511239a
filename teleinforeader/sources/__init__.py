"""Where bytes come from: a serial port, a recorded capture, a simulated meter.

`create_source(settings)` builds the source the [source] section asks for; each kind lives in
its own module, imported only when chosen (pyserial costs start-up time on a Pi Zero).
"""

from __future__ import annotations

from teleinforeader.settings import SourceSettings
from teleinforeader.sources.base import ReaderProtocol, Source

SOURCE_TYPES = ("serial", "replay", "simulator")

__all__ = ["SOURCE_TYPES", "ReaderProtocol", "Source", "create_source"]


def create_source(settings: SourceSettings) -> Source:
    """The configured source; ValueError (naming the key) when the settings cannot work."""
    if settings.type == "serial":
        from teleinforeader.sources.serialport import SerialSource

        return SerialSource(
            settings.device, mode=settings.mode, silence_timeout=settings.silence_timeout
        )
    if settings.type == "replay":
        from teleinforeader.sources.replay import ReplaySource

        if not settings.file:
            raise ValueError("source.file: a replay source needs the capture file to play")
        return ReplaySource(settings.file, speed=settings.speed, loop=settings.loop)
    if settings.type == "simulator":
        from teleinforeader.sources.simulator import SimulatorSource

        return SimulatorSource(settings.profile, seed=settings.seed, speed=settings.speed)
    raise ValueError(f"source.type: {settings.type!r} is not one of {', '.join(SOURCE_TYPES)}")
