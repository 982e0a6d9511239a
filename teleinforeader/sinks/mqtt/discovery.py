"""Home Assistant MQTT discovery: one retained config message per entity of a meter.

Per-entity messages (`<prefix>/<component>/<unique id>/config`) are what every Home Assistant
release understands. Each carries only keys its schema documents (older releases refuse a
message with an unknown key), the meter as its device (the serial number identifies it; model
from the mode and the tariff option; the reader's version), this program as its origin, and the
meter's availability topic, on which the reader's last will says `offline`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from teleinforeader.sinks.mqtt.entities import Entity
from teleinforeader.sinks.mqtt.naming import Topics, unique_id
from teleinforeader.tic import HISTORIC
from teleinforeader.tic.tariffs import option_key

PROJECT_URL = "https://github.com/teleinforeader/teleinforeader"
LINKY_TYPES = frozenset({"61", "62", "63", "64", "70", "71", "75", "76"})  # ADCO digits 5-6
OPTION_NAMES = {"BASE": "Base", "HC..": "Heures Creuses", "EJP.": "EJP", "BBR": "Tempo"}


def meter_family(state: Mapping[str, Any]) -> str:
    """Linky (standard mode, or a Linky type code in the serial number), else an older meter."""
    serial = str(state.get("serial", ""))
    linky = state.get("mode") != HISTORIC or serial[4:6] in LINKY_TYPES
    return "Linky" if linky else "Electronic meter"


def model(state: Mapping[str, Any]) -> str:
    """'Linky, historic mode, Heures Creuses', 'Linky, standard mode, TEMPO, three-phase'."""
    parts = [meter_family(state), f"{state.get('mode')} mode"]
    if state.get("mode") == HISTORIC:
        option = option_key(state.get("OPTARIF"))
        if option:
            parts.append(OPTION_NAMES[option])
    elif str(state.get("NGTF", "")).strip():
        parts.append(str(state["NGTF"]).strip())
    if "IINST1" in state or "IRMS2" in state:
        parts.append("three-phase")
    return ", ".join(parts)


def device(state: Mapping[str, Any], version: str) -> dict[str, Any]:
    serial = str(state["serial"])
    return {
        "identifiers": [f"teleinforeader_{serial}"],
        "name": f"{meter_family(state)} {serial}",
        "manufacturer": "Enedis",
        "model": model(state),
        "serial_number": serial,
        "sw_version": f"teleinforeader {version}",
    }


def config_payload(
    entity: Entity, topics: Topics, device_block: Mapping[str, Any], version: str, qos: int
) -> dict[str, Any]:
    """The discovery config of `entity` (Home Assistant's full key names, no abbreviation)."""
    config: dict[str, Any] = {
        "name": entity.name,
        "unique_id": unique_id(topics.serial, entity.key),
        "state_topic": topics.state,
        "value_template": entity.value_template,
        "availability_topic": topics.availability,
        "device": dict(device_block),
        "origin": {"name": "teleinforeader", "sw_version": version, "support_url": PROJECT_URL},
    }
    optional = {
        "device_class": entity.device_class,
        "state_class": entity.state_class,
        "unit_of_measurement": entity.unit,
        "options": list(entity.options) if entity.options else None,
        "entity_category": entity.category,
    }
    config.update((key, value) for key, value in optional.items() if value is not None)
    if not entity.enabled:
        config["enabled_by_default"] = False
    if qos:
        config["qos"] = qos
    return config


def config_messages(
    entities: list[Entity], topics: Topics, state: Mapping[str, Any], version: str, qos: int
) -> list[tuple[str, bytes]]:
    """(topic, payload) of every entity's config message."""
    block = device(state, version)
    return [
        (
            topics.config(entity.component, entity.key),
            json.dumps(config_payload(entity, topics, block, version, qos)).encode(),
        )
        for entity in entities
    ]
