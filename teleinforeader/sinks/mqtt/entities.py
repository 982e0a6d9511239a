"""Which Home Assistant entities a meter gets, and what each one is.

Pure data and rules, no MQTT: `entities_for(state)` reads a state object (see `state.py`) and
returns the entities that describe it, in a stable order. An entity's `key` is the label it
shows (or, for a derived value, its lower-case key) and gives its `unique_id`
(`<serial>_<key>`, see `naming.unique_id`): keys never change between releases.

Classes follow what Home Assistant's sensor and Energy dashboard accept: energy indexes in Wh
as `energy`/`total_increasing` (one per tariff index, so each can be a tariff of the grid
consumption, plus a total), the producer's `EAIT` the same way (energy returned to the grid),
apparent powers as `apparent_power` in VA (never `power`, which means W), PREF and PCOUP in
kVA, the tariff period and Tempo colours as `enum` sensors, overrun warnings as `problem`
binary sensors. Values that describe the installation rather than measure it are in the
diagnostic category, and the rarely useful ones start disabled (the user may enable them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable

from teleinforeader.sinks.mqtt.state import TARIFF_PERIODS
from teleinforeader.tic.stge import BREAKING_DEVICE
from teleinforeader.tic.tariffs import HISTORIC_OPTIONS, TEMPO_COLOURS, option_key

SENSOR, BINARY_SENSOR = "sensor", "binary_sensor"
DIAGNOSTIC = "diagnostic"
ENERGY, APPARENT_POWER, POWER = "energy", "apparent_power", "power"
CURRENT, VOLTAGE, ENUM, TIMESTAMP = "current", "voltage", "enum", "timestamp"
PROBLEM, TAMPER, OPENING = "problem", "tamper", "opening"
MEASUREMENT, TOTAL_INCREASING = "measurement", "total_increasing"


@dataclass(frozen=True)
class Entity:
    """One Home Assistant entity of a meter."""

    key: str  # the label, or the derived value's key
    component: str  # sensor | binary_sensor
    name: str
    value_template: str
    device_class: str | None = None
    state_class: str | None = None
    unit: str | None = None
    options: tuple[str, ...] | None = None  # enum sensors
    category: str | None = None  # diagnostic
    enabled: bool = True


# -- value templates (Home Assistant's Jinja): a missing key renders '', which it ignores ----


def _key(key: str) -> str:
    return f"value_json[{key!r}]"


def _number(key: str) -> str:
    return f"{{{{ {_key(key)} if {key!r} in value_json else '' }}}}"


def _kilo(key: str) -> str:
    return f"{{{{ {_key(key)} // 1000 if {key!r} in value_json else '' }}}}"


def _text(key: str) -> str:
    return f"{{{{ {_key(key)} | trim if {key!r} in value_json else '' }}}}"


def _derived(key: str) -> str:
    """A derived value that may be null ('None' to Home Assistant: unknown)."""
    return _number(key)


def _present(key: str) -> str:
    """ON while the meter sends the label (overrun warnings are sent only while they last)."""
    return f"{{{{ 'ON' if {key!r} in value_json else 'OFF' }}}}"


def _flag(parent: str, key: str | int) -> str:
    value = f"value_json[{parent!r}][{key!r}]"
    return f"{{{{ ('ON' if {value} else 'OFF') if {parent!r} in value_json else '' }}}}"


def _member(parent: str, key: str) -> str:
    value = f"value_json[{parent!r}][{key!r}]"
    has = f"{parent!r} in value_json and {key!r} in value_json[{parent!r}]"
    return f"{{{{ {value} if {has} else '' }}}}"


# -- the catalogue ----------------------------------------------------------------------------


def _energy(key: str, name: str, enabled: bool = True) -> Entity:
    return Entity(key, SENSOR, name, _number(key), ENERGY, TOTAL_INCREASING, "Wh", enabled=enabled)


def _measure(key: str, name: str, device_class: str, unit: str, enabled: bool = True) -> Entity:
    return Entity(key, SENSOR, name, _number(key), device_class, MEASUREMENT, unit, enabled=enabled)


def _diagnostic_text(key: str, name: str, enabled: bool = True) -> Entity:
    return Entity(key, SENSOR, name, _text(key), category=DIAGNOSTIC, enabled=enabled)


# Text labels shown as diagnostic sensors: label, name, enabled by default.
HISTORIC_TEXTS = (
    ("OPTARIF", "Tariff option", True),
    ("HHPHC", "Peak/off-peak schedule group", False),
    ("MOTDETAT", "Status word", False),
)
STANDARD_TEXTS = (
    ("NGTF", "Tariff calendar", True),
    ("MSG1", "Message", True),
    ("PRM", "Delivery point (PRM)", True),
    ("VTIC", "TIC version", False),
    ("NJOURF", "Day profile, today", False),
    ("NJOURF+1", "Day profile, tomorrow", False),
    ("PJOURF+1", "Day schedule, tomorrow", False),
    ("PPOINTE", "Day schedule, next peak day", False),
)


def _diagnostic_texts(
    state: Mapping[str, Any], table: Sequence[tuple[str, str, bool]]
) -> list[Entity]:
    """A diagnostic text sensor for each of `table`'s labels the meter sends, in that order."""
    return [_diagnostic_text(key, name, enabled) for key, name, enabled in table if key in state]


def _diagnostics(
    state: Mapping[str, Any],
    names: Sequence[tuple[str, str]],
    template: Callable[[str], str],
    device_class: str | None,
    unit: str,
    enabled: bool = True,
) -> list[Entity]:
    """A diagnostic sensor for each (label, name) of `names` the meter sends, in that order,
    its value rendered by `template`."""
    return [
        Entity(
            key,
            SENSOR,
            name,
            template(key),
            device_class,
            unit=unit,
            category=DIAGNOSTIC,
            enabled=enabled,
        )
        for key, name in names
        if key in state
    ]


def _overrun(key: str, name: str) -> Entity:
    return Entity(key, BINARY_SENSOR, name, _present(key), PROBLEM)


HISTORIC_INDEX_NAMES = {
    "BASE": "Energy",
    "HCHC": "Energy, off-peak hours",
    "HCHP": "Energy, peak hours",
    "EJPHN": "Energy, EJP normal hours",
    "EJPHPM": "Energy, EJP mobile peak hours",
    "BBRHCJB": "Energy, Tempo blue days, off-peak hours",
    "BBRHPJB": "Energy, Tempo blue days, peak hours",
    "BBRHCJW": "Energy, Tempo white days, off-peak hours",
    "BBRHPJW": "Energy, Tempo white days, peak hours",
    "BBRHCJR": "Energy, Tempo red days, off-peak hours",
    "BBRHPJR": "Energy, Tempo red days, peak hours",
}
TARIFF_PERIOD = Entity(
    "tariff_period",
    SENSOR,
    "Tariff period",
    _derived("tariff_period"),
    ENUM,
    options=tuple(TARIFF_PERIODS.values()),
)
TEMPO = (
    Entity(
        "tempo_today",
        SENSOR,
        "Tempo colour today",
        _derived("tempo_today"),
        ENUM,
        options=TEMPO_COLOURS,
    ),
    Entity(
        "tempo_tomorrow",
        SENSOR,
        "Tempo colour tomorrow",
        _derived("tempo_tomorrow"),
        ENUM,
        options=TEMPO_COLOURS,
    ),
)
ENERGY_TOTAL = _energy("energy_total", "Energy, total")
PHASES = ("1", "2", "3")


def _historic(state: Mapping[str, Any]) -> list[Entity]:
    entities = [
        _energy(label, name) for label, name in HISTORIC_INDEX_NAMES.items() if label in state
    ]
    option = option_key(state.get("OPTARIF"))
    if len(HISTORIC_OPTIONS.get(option or "", ())) > 1 and "energy_total" in state:
        entities.append(ENERGY_TOTAL)
    if "tariff_period" in state:
        entities.append(TARIFF_PERIOD)
    if "tempo_today" in state:  # a Tempo contract (see state.py)
        entities += TEMPO
    three_phase = "IINST1" in state
    if three_phase:
        entities += [_measure(f"IINST{n}", f"Current, phase {n}", CURRENT, "A") for n in PHASES]
        entities += [_overrun(f"ADIR{n}", f"Overrun warning, phase {n}") for n in PHASES]
    elif "IINST" in state:
        entities += [
            _measure("IINST", "Current", CURRENT, "A"),
            _overrun("ADPS", "Overrun warning"),
        ]
    if "PAPP" in state:
        entities.append(_measure("PAPP", "Apparent power", APPARENT_POWER, "VA"))
    if option == "EJP.":
        entities.append(Entity("PEJP", BINARY_SENSOR, "EJP period notice", _present("PEJP")))
    entities += _diagnostics(state, (("ISOUSC", "Subscribed current"),), _number, CURRENT, "A")
    maxima = (
        ("IMAX", "Maximum current"),
        *((f"IMAX{n}", f"Maximum current, phase {n}") for n in PHASES),
    )
    entities += _diagnostics(state, maxima, _number, CURRENT, "A", enabled=False)
    yesterday = (("PMAX", "Maximum power, yesterday"),)
    entities += _diagnostics(state, yesterday, _number, None, "W", enabled=False)
    if "PPOT" in state:
        template = (
            "{{ ('OFF' if value_json['PPOT'] == '00' else 'ON') if 'PPOT' in value_json else '' }}"
        )
        entities.append(Entity("PPOT", BINARY_SENSOR, "Phase missing", template, PROBLEM))
    return entities + _diagnostic_texts(state, HISTORIC_TEXTS)


def _standard(state: Mapping[str, Any]) -> list[Entity]:
    entities = []
    if "EAST" in state:
        entities.append(_energy("EAST", "Energy, total"))
    for n in range(1, 11):
        label = f"EASF{n:02d}"
        if label in state and (n == 1 or state[label]):  # unused indexes read 0 for ever
            entities.append(_energy(label, f"Energy, supplier index {n}"))
    for n in range(1, 5):
        label = f"EASD{n:02d}"
        if state.get(label):
            entities.append(_energy(label, f"Energy, distributor index {n}", enabled=False))
    if "EAIT" in state:
        entities.append(_energy("EAIT", "Energy returned to the grid"))
    for n in range(1, 5):
        label = f"ERQ{n}"
        if label in state:
            entities.append(
                Entity(
                    label,
                    SENSOR,
                    f"Reactive energy, quadrant {n}",
                    _number(label),
                    state_class=TOTAL_INCREASING,
                    unit="varh",
                    enabled=False,
                )
            )
    if "LTARF" in state:
        entities.append(Entity("LTARF", SENSOR, "Tariff period", _text("LTARF")))
    if "NTARF" in state:
        entities.append(Entity("NTARF", SENSOR, "Supplier index in use", _number("NTARF")))
    if "tempo_today" in state:  # a Tempo contract (see state.py)
        entities += TEMPO
    entities += _standard_measures(state)
    powers = (("PREF", "Subscribed power"), ("PCOUP", "Breaking power"))
    entities += _diagnostics(state, powers, _kilo, APPARENT_POWER, "kVA")
    if "status" in state:
        entities += _status(state["status"])
    if "relays" in state:
        relay = _flag("relays", 0)
        entities.append(Entity("relay1", BINARY_SENSOR, "Relay 1", relay, category=DIAGNOSTIC))
    if "DATE" in state:
        entities.append(
            Entity(
                "DATE",
                SENSOR,
                "Meter clock",
                _member("horodates", "DATE"),
                TIMESTAMP,
                category=DIAGNOSTIC,
                enabled=False,
            )
        )
    return entities + _diagnostic_texts(state, STANDARD_TEXTS)


def _standard_measures(state: Mapping[str, Any]) -> list[Entity]:
    """Currents, voltages and powers, total first, then per phase."""
    table: list[tuple[str, str, str, str, bool]] = [
        ("SINSTS", "Apparent power", APPARENT_POWER, "VA", True),
        ("SINST1", "Apparent power", APPARENT_POWER, "VA", True),  # pilot-series meters
        ("SINSTI", "Apparent power returned to the grid", APPARENT_POWER, "VA", True),
        ("SMAXSN", "Maximum apparent power, today", APPARENT_POWER, "VA", True),
        ("SMAXSN-1", "Maximum apparent power, yesterday", APPARENT_POWER, "VA", True),
        ("SMAXN", "Maximum apparent power, today", APPARENT_POWER, "VA", True),
        ("SMAXN-1", "Maximum apparent power, yesterday", APPARENT_POWER, "VA", True),
        ("SMAXIN", "Maximum apparent power returned, today", APPARENT_POWER, "VA", True),
        ("SMAXIN-1", "Maximum apparent power returned, yesterday", APPARENT_POWER, "VA", True),
        ("CCASN", "Active power, load curve", POWER, "W", True),
        ("CCASN-1", "Active power, previous load curve point", POWER, "W", False),
        ("CCAIN", "Active power returned, load curve", POWER, "W", True),
        ("CCAIN-1", "Active power returned, previous load curve point", POWER, "W", False),
    ]
    for n in PHASES:
        table += [
            (f"IRMS{n}", f"Current, phase {n}", CURRENT, "A", True),
            (f"URMS{n}", f"Voltage, phase {n}", VOLTAGE, "V", True),
            (f"UMOY{n}", f"Mean voltage, phase {n}", VOLTAGE, "V", True),
            (f"SINSTS{n}", f"Apparent power, phase {n}", APPARENT_POWER, "VA", True),
            (f"SMAXSN{n}", f"Maximum apparent power today, phase {n}", APPARENT_POWER, "VA", False),
            (
                f"SMAXSN{n}-1",
                f"Maximum apparent power yesterday, phase {n}",
                APPARENT_POWER,
                "VA",
                False,
            ),
        ]
    return [
        _measure(label, name, device_class, unit, enabled)
        for label, name, device_class, unit, enabled in table
        if label in state
    ]


def _status(status: Mapping[str, Any]) -> list[Entity]:
    """The STGE status register's fields worth an entity."""
    entities = [
        Entity(
            "status_reference_power_exceeded",
            BINARY_SENSOR,
            "Overrun warning",
            _flag("status", "reference_power_exceeded"),
            PROBLEM,
        ),
        Entity(
            "status_overvoltage",
            BINARY_SENSOR,
            "Overvoltage",
            _flag("status", "overvoltage"),
            PROBLEM,
        ),
        Entity(
            "status_breaking_device",
            SENSOR,
            "Breaking device",
            _member("status", "breaking_device"),
            ENUM,
            options=(*BREAKING_DEVICE, "unknown (7)"),
            category=DIAGNOSTIC,
        ),
        Entity(
            "status_dry_contact_open",
            BINARY_SENSOR,
            "Dry contact",
            _flag("status", "dry_contact_open"),
            OPENING,
            category=DIAGNOSTIC,
        ),
        Entity(
            "status_terminal_cover_open",
            BINARY_SENSOR,
            "Terminal cover",
            _flag("status", "terminal_cover_open"),
            TAMPER,
            category=DIAGNOSTIC,
        ),
        Entity(
            "status_clock_degraded",
            BINARY_SENSOR,
            "Meter clock degraded",
            _flag("status", "clock_degraded"),
            PROBLEM,
            category=DIAGNOSTIC,
        ),
    ]
    if status.get("producer"):
        entities.append(
            Entity(
                "status_energy_negative",
                BINARY_SENSOR,
                "Returning energy to the grid",
                _flag("status", "energy_negative"),
                POWER,
            )
        )
    return entities


def entities_for(state: Mapping[str, Any]) -> list[Entity]:
    """The entities of the meter whose state is `state`, in a stable order."""
    return _historic(state) if state.get("mode") == "historic" else _standard(state)
