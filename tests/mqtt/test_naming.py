"""Topic-safe ids, topics and the entity list: the published interface, pinned so that a
release never renames an entity (Home Assistant would lose its history)."""

from __future__ import annotations

from teleinforeader.sinks.mqtt.entities import entities_for
from teleinforeader.sinks.mqtt.naming import Topics, object_id, unique_id
from teleinforeader.sinks.mqtt.picture import MeterPicture
from teleinforeader.sinks.mqtt.state import state_of
from teleinforeader.tic import LABELS
from tests.mqtt.mqtt_helpers import simulated


def test_labels_with_plus_become_safe_ids_and_others_stay_as_they_are() -> None:
    assert object_id("PJOURF+1") == "PJOURF_plus_1"
    assert object_id("NJOURF+1") == "NJOURF_plus_1"
    assert object_id("SMAXSN-1") == "SMAXSN-1"
    assert object_id("EASF01") == "EASF01"
    assert object_id("A/B#") == "A_x2f_B_x23_"
    assert unique_id("021861348497", "PJOURF+1") == "021861348497_PJOURF_plus_1"


def test_every_label_of_the_table_gets_a_distinct_safe_id() -> None:
    labels = {label for table in LABELS.values() for label in table}
    ids = {object_id(label) for label in labels}
    assert len(ids) == len(labels)
    assert all(not set(i) & set("+#/ ") for i in ids)


def test_topics_are_keyed_by_the_serial_number() -> None:
    topics = Topics("home/tic", "ha", "021861348497")
    assert topics.state == "home/tic/021861348497/state"
    assert topics.availability == "home/tic/021861348497/availability"
    assert topics.homeassistant_status == "ha/status"
    assert topics.config("sensor", "BASE") == "ha/sensor/021861348497_BASE/config"


def entity_table(profile: str) -> list[tuple[object, ...]]:
    frames = simulated(profile, 3)
    picture = MeterPicture(frames[0].meter_id or "", frames[0].mode)
    for frame in frames:
        picture.see(frame)
    return [
        (e.key, e.component, e.device_class, e.state_class, e.unit, e.category, e.enabled)
        for e in entities_for(state_of(picture.snapshot()))
    ]


HISTORIC_HCHP = [
    ("HCHC", "sensor", "energy", "total_increasing", "Wh", None, True),
    ("HCHP", "sensor", "energy", "total_increasing", "Wh", None, True),
    ("energy_total", "sensor", "energy", "total_increasing", "Wh", None, True),
    ("tariff_period", "sensor", "enum", None, None, None, True),
    ("IINST", "sensor", "current", "measurement", "A", None, True),
    ("ADPS", "binary_sensor", "problem", None, None, None, True),
    ("PAPP", "sensor", "apparent_power", "measurement", "VA", None, True),
    ("ISOUSC", "sensor", "current", None, "A", "diagnostic", True),
    ("IMAX", "sensor", "current", None, "A", "diagnostic", False),
    ("OPTARIF", "sensor", None, None, None, "diagnostic", True),
    ("HHPHC", "sensor", None, None, None, "diagnostic", False),
    ("MOTDETAT", "sensor", None, None, None, "diagnostic", False),
]
STANDARD_MONO = [
    ("EAST", "sensor", "energy", "total_increasing", "Wh", None, True),
    ("EASF01", "sensor", "energy", "total_increasing", "Wh", None, True),
    ("EASF02", "sensor", "energy", "total_increasing", "Wh", None, True),
    ("EASD01", "sensor", "energy", "total_increasing", "Wh", None, False),
    ("EASD02", "sensor", "energy", "total_increasing", "Wh", None, False),
    ("EASD03", "sensor", "energy", "total_increasing", "Wh", None, False),
    ("EASD04", "sensor", "energy", "total_increasing", "Wh", None, False),
    ("LTARF", "sensor", None, None, None, None, True),
    ("NTARF", "sensor", None, None, None, None, True),
    ("SINSTS", "sensor", "apparent_power", "measurement", "VA", None, True),
    ("SMAXSN", "sensor", "apparent_power", "measurement", "VA", None, True),
    ("SMAXSN-1", "sensor", "apparent_power", "measurement", "VA", None, True),
    ("CCASN", "sensor", "power", "measurement", "W", None, True),
    ("CCASN-1", "sensor", "power", "measurement", "W", None, False),
    ("IRMS1", "sensor", "current", "measurement", "A", None, True),
    ("URMS1", "sensor", "voltage", "measurement", "V", None, True),
    ("UMOY1", "sensor", "voltage", "measurement", "V", None, True),
    ("PREF", "sensor", "apparent_power", None, "kVA", "diagnostic", True),
    ("PCOUP", "sensor", "apparent_power", None, "kVA", "diagnostic", True),
    ("status_reference_power_exceeded", "binary_sensor", "problem", None, None, None, True),
    ("status_overvoltage", "binary_sensor", "problem", None, None, None, True),
    ("status_breaking_device", "sensor", "enum", None, None, "diagnostic", True),
    ("status_dry_contact_open", "binary_sensor", "opening", None, None, "diagnostic", True),
    ("status_terminal_cover_open", "binary_sensor", "tamper", None, None, "diagnostic", True),
    ("status_clock_degraded", "binary_sensor", "problem", None, None, "diagnostic", True),
    ("relay1", "binary_sensor", None, None, None, "diagnostic", True),
    ("DATE", "sensor", "timestamp", None, None, "diagnostic", False),
    ("NGTF", "sensor", None, None, None, "diagnostic", True),
    ("MSG1", "sensor", None, None, None, "diagnostic", True),
    ("PRM", "sensor", None, None, None, "diagnostic", True),
    ("VTIC", "sensor", None, None, None, "diagnostic", False),
    ("NJOURF", "sensor", None, None, None, "diagnostic", False),
    ("NJOURF+1", "sensor", None, None, None, "diagnostic", False),
    ("PJOURF+1", "sensor", None, None, None, "diagnostic", False),
]


def test_the_entities_of_a_historic_and_a_standard_meter_never_change() -> None:
    """docs/mqtt.md lists these; a change here is a change every user's history pays for."""
    assert entity_table("historic-hchp") == HISTORIC_HCHP
    assert entity_table("standard-mono") == STANDARD_MONO
