"""MQTT with Home Assistant discovery (see docs/mqtt.md): `create_sink` for the daemon.

Light on purpose: paho-mqtt (the `mqtt` extra) is imported only when `[mqtt] enabled = true`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from teleinforeader.sinks import SinkContext
    from teleinforeader.sinks.mqtt.sink import MqttSink

EXTRA_MISSING = (
    "[mqtt] enabled = true needs paho-mqtt 2.x: pip install 'teleinforeader[mqtt]' ({error})"
)


def create_sink(context: SinkContext) -> MqttSink | None:
    """The daemon's factory entry (see `teleinforeader.sinks`); None when disabled.

    Raises RuntimeError when paho-mqtt is missing or is not a 2.x release.
    """
    settings = context.settings.mqtt
    if not settings.enabled:
        return None
    try:
        import paho.mqtt.client as mqtt

        mqtt.CallbackAPIVersion  # noqa: B018 - absent before paho-mqtt 2.0
    except (ImportError, AttributeError) as error:
        raise RuntimeError(EXTRA_MISSING.format(error=error)) from None
    import socket

    from teleinforeader import __version__
    from teleinforeader.sinks.mqtt.sink import MqttSink

    return MqttSink(settings, __version__, socket.gethostname())
