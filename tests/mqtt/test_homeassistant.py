"""Discovery and states for every simulated meter and every real capture, through a real
broker, checked against Home Assistant's documented schema and classes, with values equal to
the decoded frames."""

from __future__ import annotations

import json
from typing import Any

import pytest

from teleinforeader.guard import PlausibilityGuard
from teleinforeader.sinks.mqtt.naming import unique_id
from teleinforeader.sources.simulator import PROFILES
from teleinforeader.tic import Decoder, Frame
from tests.mqtt.conftest import StartSink
from tests.mqtt.mqtt_helpers import checked_configs, publish_each, simulated, stamped
from tests.support.captures import load_capture
from tests.support.homeassistant import IGNORED, entity_value, is_numeric
from tests.support.mosquitto import Recorder
from tests.tic.test_golden import CASES


def check_states(
    frames: list[Frame], received: list[dict[str, Any]], recorder: Recorder
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every state carries its frame's typed values; every entity makes sense of every state;
    energy never goes down. Returns the entities (unique_id -> (component, config))."""
    entities = checked_configs(recorder)
    assert entities, "no discovery message"
    serial = received[0]["serial"]
    assert all(uid.startswith(f"{serial}_") for uid in entities)
    energy: dict[str, float] = {}
    for frame, state in zip(frames, received):
        for label in frame:
            assert state[label] == frame.typed(label), label
        payload = json.dumps(state).encode()
        for uid, (component, config) in entities.items():
            value = entity_value(component, config, payload)
            label = uid[len(serial) + 1 :]
            if component == "sensor" and is_numeric(config) and label in frame:
                expected = frame.typed(label)
                if config.get("unit_of_measurement") == "kVA":
                    expected //= 1000  # typed in VA, shown in the unit the meter uses
                assert value == expected, uid
            if config.get("device_class") == "energy" and value is not IGNORED:
                assert value >= energy.get(uid, 0), f"{uid} went down"
                energy[uid] = value
    return entities


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_simulated_meter_is_discovered_and_published(
    profile: str, start_sink: StartSink, recorder: Recorder
) -> None:
    frames = simulated(profile, 40)  # 40 minutes of the meter's life
    sink = start_sink()
    received = publish_each(sink, recorder, frames)
    entities = check_states(frames, received, recorder)
    serial = frames[0].meter_id
    assert serial is not None
    classes = {config.get("device_class") for _, config in entities.values()}
    assert "energy" in classes and "apparent_power" in classes
    assert "power" not in {  # VA is never published as W
        config.get("device_class")
        for uid, (_, config) in entities.items()
        if config.get("unit_of_measurement") == "VA"
    }
    if profile == "standard-producer":
        (_, eait) = entities[unique_id(serial, "EAIT")]
        assert (eait["device_class"], eait["state_class"]) == ("energy", "total_increasing")
    if profile == "historic-tempo":
        assert {unique_id(serial, "tempo_today"), unique_id(serial, "tempo_tomorrow")} <= set(
            entities
        )


# The golden cases decode every capture of tests/data and the shared folder: each category
# of SOURCES.md (historic BASE, HC/HP, Tempo, EJP, three-phase; standard single-phase,
# three-phase, producer; raw streams; noisy ones) is among them.
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_every_capture_is_discovered_and_published(
    case: Any, start_sink: StartSink, recorder: Recorder
) -> None:
    decoded = stamped(Decoder().feed(case.convert(load_capture(case.name))))
    guard = PlausibilityGuard()  # as in the pipeline: only what it releases is published
    frames = [released for frame in decoded for released in guard.check(frame)]
    frames += guard.flush()
    sink = start_sink()
    if not any(frame.meter_id for frame in frames):
        # Captures whose serial number was masked (its checksum then fails): without a
        # serial number there is no topic, so nothing is published, and nothing breaks.
        for frame in frames:
            sink.submit(frame)
        sink.close(2.0)
        assert not recorder.messages
        return
    frames = frames[[bool(frame.meter_id) for frame in frames].index(True) :][:30]
    received = publish_each(sink, recorder, frames)
    check_states(frames, received, recorder)
