"""Frames for the MQTT tests (simulated meters, real captures) and what a broker received."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from teleinforeader.settings import MqttSettings
from teleinforeader.sinks.mqtt.sink import MqttSink
from teleinforeader.sources.simulator import Simulator
from teleinforeader.tic import Decoder, Frame
from tests.support.homeassistant import check_config
from tests.support.mosquitto import Message, MosquittoBroker, Recorder
from tests.support.waiting import wait_for

START = datetime(2026, 1, 5, 20, 55, tzinfo=timezone.utc)
DISCOVERY_PREFIX = "homeassistant"


def mqtt_section(broker: MosquittoBroker, **overrides: object) -> dict[str, object]:
    """An [mqtt] section for `broker`: every frame published, quick reconnections
    (`overrides` win)."""
    options: dict[str, object] = {
        "enabled": True,
        "host": broker.host,
        "port": broker.port,
        "publish": "every_frame",
        "reconnect_delay": 0.1,
        "reconnect_max_delay": 0.5,
        "keepalive": 5,
    }
    options.update(overrides)
    return options


def settings_for(broker: MosquittoBroker, **overrides: object) -> MqttSettings:
    """The settings of `mqtt_section(broker, **overrides)`."""
    return MqttSettings(**mqtt_section(broker, **overrides))  # type: ignore[arg-type]


def stamped(frames: Iterable[Frame], start: datetime = START) -> list[Frame]:
    """`frames`, each given its own receive time a second apart (state messages carry it)."""
    frames = list(frames)
    for n, frame in enumerate(frames):
        frame.received_at = start + timedelta(seconds=n)
    return frames


def simulated(
    profile: str, count: int, seconds_per_frame: float = 60.0, seed: int = 0
) -> list[Frame]:
    """`count` frames of a simulated meter whose clock moves `seconds_per_frame` a frame."""
    simulator = Simulator(profile, seed=seed, seconds_per_frame=seconds_per_frame)
    decoder = Decoder()
    frames: list[Frame] = []
    wire = simulator.frames()
    while len(frames) < count:
        frames += decoder.feed(next(wire))
    return stamped(frames[:count])


def states(recorder: Recorder, serial: str, prefix: str = "teleinforeader") -> list[dict[str, Any]]:
    return [message.json() for message in recorder.on(f"{prefix}/{serial}/state")]


def configs(recorder: Recorder, prefix: str = DISCOVERY_PREFIX) -> dict[str, Message]:
    """The latest discovery message of each config topic."""
    found: dict[str, Message] = {}
    for message in recorder.matching(lambda topic: topic.startswith(f"{prefix}/")):
        if message.topic.endswith("/config"):
            found[message.topic] = message
    return found


def publish_each(
    sink: MqttSink, recorder: Recorder, frames: Sequence[Frame]
) -> list[dict[str, Any]]:
    """Submit the frames one at a time, each once the state of the previous one arrived;
    returns the states received, one per frame (`every_frame` sinks)."""
    received: list[dict[str, Any]] = []
    for frame in frames:
        sink.submit(frame)
        serial = frame.meter_id or received[-1]["serial"]
        expected = frame.received_at.isoformat() if frame.received_at else None

        def arrived() -> bool:
            found = [s for s in states(recorder, serial) if s["time"] == expected]  # noqa: B023
            return bool(found)

        wait_for(arrived, what=f"the state of the frame received at {expected}")
        received.append(next(s for s in states(recorder, serial) if s["time"] == expected))
    return received


def checked_configs(recorder: Recorder) -> dict[str, tuple[str, dict[str, Any]]]:
    """unique_id -> (component, config) of every discovery message, each checked against
    Home Assistant's schema and classes."""
    result = {}
    for topic, message in configs(recorder).items():
        config = json.loads(message.payload)
        component = check_config(topic, config, DISCOVERY_PREFIX)
        result[config["unique_id"]] = (component, config)
    return result
