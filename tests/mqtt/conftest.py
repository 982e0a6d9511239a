"""Fixtures of the MQTT tests: a throwaway Mosquitto per test, a recorder subscribed to every
topic, and MQTT sinks pointed at the broker; all closed at teardown.

`make test` installs mosquitto, so a missing broker is a failure, not a skip."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import pytest

from teleinforeader.sinks.mqtt.sink import MqttSink
from tests.mqtt.mqtt_helpers import settings_for
from tests.support.mosquitto import MosquittoBroker, Recorder
from tests.support.sinks import started_sinks

StartSink = Callable[..., MqttSink]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    broker = MosquittoBroker(tmp_path / "broker")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def recorder(broker: MosquittoBroker) -> Iterator[Recorder]:
    recorder = Recorder(broker)
    yield recorder
    recorder.close()


@pytest.fixture
def start_sink(broker: MosquittoBroker) -> Iterator[StartSink]:
    """Start an MQTT sink on `broker` (settings override the test defaults); each one is
    closed at teardown and must not have crashed."""

    def build(hostname: str = "testhost", **overrides: object) -> MqttSink:
        return MqttSink(settings_for(broker, **overrides), "1.2.3", hostname)

    with started_sinks(build, 2.0) as start:
        yield start
