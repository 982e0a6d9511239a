"""What Home Assistant accepts from MQTT discovery, written down for the tests.

From Home Assistant's MQTT integration (the discovery schemas of `sensor` and `binary_sensor`,
the shared entity, device, origin and availability schemas) and its sensor constants (which
units each device class accepts, which state classes go with it). Two things are checked for
every discovery message:
- `check_config`: only documented keys (older releases refuse a whole message for one unknown
  key), required ones present, device class, unit and state class a combination Home Assistant
  accepts (and the Energy dashboard needs), enum options only on enum sensors;
- `entity_value`: what Home Assistant makes of a state message for that entity, by rendering
  its value template with Jinja2 as Home Assistant does (`value_json` is the parsed payload)
  and applying the sensor's rules: an empty result is ignored, `None` is unknown, a numeric
  sensor needs a number, an enum one of its options, a binary sensor ON or OFF.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from jinja2 import Template
from jinja2.sandbox import ImmutableSandboxedEnvironment

_AVAILABILITY = {"availability", "availability_mode", "availability_template",
                 "availability_topic", "payload_available", "payload_not_available"}  # fmt: skip
_ENTITY = _AVAILABILITY | {
    "device", "origin", "enabled_by_default", "entity_category", "entity_picture", "icon",
    "json_attributes_topic", "json_attributes_template", "object_id", "default_entity_id",
    "unique_id", "name", "qos", "encoding", "state_topic", "value_template",
}  # fmt: skip
SENSOR_KEYS = _ENTITY | {
    "device_class", "expire_after", "force_update", "last_reset_value_template", "options",
    "suggested_display_precision", "state_class", "unit_of_measurement",
}  # fmt: skip
BINARY_SENSOR_KEYS = _ENTITY | {
    "device_class", "expire_after", "force_update", "off_delay", "payload_off", "payload_on",
}  # fmt: skip
DEVICE_KEYS = {"identifiers", "connections", "manufacturer", "model", "model_id", "name",
               "hw_version", "serial_number", "sw_version", "via_device", "suggested_area",
               "configuration_url"}  # fmt: skip
ORIGIN_KEYS = {"name", "sw_version", "support_url"}

# Sensor device classes this program may use: the units Home Assistant accepts for each, and
# the state classes it allows with it (no state class is always allowed).
SENSOR_UNITS: dict[str, set[str | None]] = {
    "energy": {"mWh", "Wh", "kWh", "MWh", "GWh", "TWh", "cal", "kcal", "Mcal", "Gcal",
               "J", "kJ", "MJ", "GJ"},
    "apparent_power": {"mVA", "VA", "kVA"},
    "power": {"mW", "W", "kW", "MW", "GW", "TW"},
    "current": {"mA", "A"},
    "voltage": {"µV", "mV", "V", "kV", "MV"},
    "enum": {None},
    "timestamp": {None},
}  # fmt: skip
SENSOR_STATE_CLASSES: dict[str, set[str]] = {
    "energy": {"total", "total_increasing"},
    "apparent_power": {"measurement"},
    "power": {"measurement"},
    "current": {"measurement"},
    "voltage": {"measurement"},
    "enum": set(),
    "timestamp": set(),
}
STATE_CLASSES = {"measurement", "total", "total_increasing"}
BINARY_SENSOR_CLASSES = {
    "battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door",
    "garage_door", "gas", "heat", "light", "lock", "moisture", "motion", "moving", "occupancy",
    "opening", "plug", "power", "presence", "problem", "running", "safety", "smoke", "sound",
    "tamper", "update", "vibration", "window",
}  # fmt: skip
ENTITY_CATEGORIES = {"diagnostic"}  # "config" is for entities that can be set
CONFIG_TOPIC = re.compile(
    r"(?P<component>sensor|binary_sensor)/(?P<object_id>[a-zA-Z0-9_-]+)/config"
)
OBJECT_ID = re.compile(r"[a-zA-Z0-9_-]+")
_WILDCARDS = re.compile(r"[+#]")
IGNORED = object()  # the entity keeps its state: Home Assistant ignores an empty result
_JINJA = ImmutableSandboxedEnvironment()


def check_config(topic: str, config: dict[str, Any], discovery_prefix: str) -> str:
    """Raise AssertionError where `config` (sent on `topic`) breaks Home Assistant's rules;
    return the component."""
    relative = topic.removeprefix(f"{discovery_prefix}/")
    match = CONFIG_TOPIC.fullmatch(relative)
    assert match, f"not a discovery config topic: {topic}"
    component = match["component"]
    allowed = SENSOR_KEYS if component == "sensor" else BINARY_SENSOR_KEYS
    assert set(config) <= allowed, f"{topic}: unknown keys {set(config) - allowed}"
    for key in ("unique_id", "state_topic", "name", "value_template", "availability_topic"):
        assert config.get(key), f"{topic}: no {key}"
    assert match["object_id"] == config["unique_id"], "the object id should be the unique_id"
    assert not _WILDCARDS.search(config["state_topic"] + config["availability_topic"])
    device = config["device"]
    assert set(device) <= DEVICE_KEYS, f"{topic}: unknown device keys {set(device) - DEVICE_KEYS}"
    assert device["identifiers"], "a device needs an identifier"
    assert set(config["origin"]) <= ORIGIN_KEYS and config["origin"]["name"]
    assert config.get("entity_category", "diagnostic") in ENTITY_CATEGORIES
    _JINJA.parse(config["value_template"])
    if component == "sensor":
        _check_sensor_classes(topic, config)
    else:
        assert config.get("device_class") in BINARY_SENSOR_CLASSES | {None}, topic
    return component


def _check_sensor_classes(topic: str, config: dict[str, Any]) -> None:
    device_class = config.get("device_class")
    unit = config.get("unit_of_measurement")
    state_class = config.get("state_class")
    if state_class is not None:
        assert state_class in STATE_CLASSES, f"{topic}: state class {state_class}"
    if device_class is not None:
        assert device_class in SENSOR_UNITS, f"{topic}: a device class the test does not know"
        assert unit in SENSOR_UNITS[device_class], f"{topic}: {unit} is not a {device_class} unit"
        if state_class is not None:
            assert state_class in SENSOR_STATE_CLASSES[device_class], (
                f"{topic}: {state_class} with {device_class}"
            )
    options = config.get("options")
    if options is not None:
        assert options, f"{topic}: an empty options list"
        assert device_class == "enum" and not state_class and not unit, topic
    if device_class == "enum":
        assert options, f"{topic}: an enum sensor lists its options"


def is_numeric(config: dict[str, Any]) -> bool:
    """Home Assistant expects a number from this sensor (its unit, state or device class)."""
    device_class = config.get("device_class")
    if device_class in ("enum", "timestamp", "date"):
        return False
    return bool(device_class or config.get("state_class") or config.get("unit_of_measurement"))


def render(config: dict[str, Any], payload: bytes) -> str:
    """The value template's output for a state message, as Home Assistant renders it."""
    value = payload.decode()
    template = _compiled(config["value_template"])
    return str(template.render(value=value, value_json=json.loads(value)))


@functools.lru_cache(maxsize=1024)
def _compiled(source: str) -> Template:
    return _JINJA.from_string(source)


def entity_value(component: str, config: dict[str, Any], payload: bytes) -> Any:
    """What the entity of `config` shows after the state message `payload`: a float for a
    numeric sensor, a string for others, a bool for a binary sensor, None for unknown, or
    IGNORED. Raises AssertionError for an output Home Assistant would refuse."""
    output = render(config, payload)
    name = config["unique_id"]
    if component == "binary_sensor":
        if not output.strip():
            return IGNORED
        on, off = config.get("payload_on", "ON"), config.get("payload_off", "OFF")
        assert output in (on, off), f"{name}: {output!r} is neither {on} nor {off}"
        return output == on
    if output == "None":
        return None
    if is_numeric(config):
        if output == "":
            return IGNORED
        try:
            return float(output)
        except ValueError:
            raise AssertionError(f"{name}: {output!r} is not a number") from None
    options = config.get("options")
    if options is not None:
        assert output in options, f"{name}: {output!r} is not one of {options}"
    assert len(output) <= 255, f"{name}: a state longer than 255 characters"
    return output
