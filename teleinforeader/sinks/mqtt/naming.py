"""Topic names and Home Assistant ids, derived from the meter's serial number and the labels.

Everything here is part of the published interface: a rename loses Home Assistant's history
(entities are keyed by `unique_id`) and breaks every subscriber, so these functions change only
with a note in the Changelog. Topics are keyed by the serial number (ADCO/ADSC), which is unique
to the meter, so several readers and meters share one broker without colliding.
"""

from __future__ import annotations

import re

ONLINE, OFFLINE = "online", "offline"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")  # Home Assistant's object-id alphabet


def object_id(label: str) -> str:
    """`label` made safe as one topic level and a Home Assistant object id.

    Labels use A-Z, 0-9, '+' and '-' (`PJOURF+1`, `SMAXSN-1`); '+' is an MQTT wildcard, so it
    becomes `_plus_` (`PJOURF_plus_1`). Any other character outside [A-Za-z0-9_-], which no
    label has today, becomes `_xHH_` with its code in hex, so two labels never share an id.
    """
    return _UNSAFE.sub(_replacement, label)


def _replacement(match: re.Match[str]) -> str:
    char = match.group()
    return "_plus_" if char == "+" else f"_x{ord(char):02x}_"


def unique_id(serial: str, key: str) -> str:
    """Home Assistant's `unique_id` of one entity of meter `serial`: `<serial>_<object id>`."""
    return f"{serial}_{object_id(key)}"


class Topics:
    """Every topic of one meter, under `prefix` (states) and `discovery_prefix`."""

    def __init__(self, prefix: str, discovery_prefix: str, serial: str) -> None:
        self.serial = serial
        self.base = f"{prefix}/{serial}"
        self.state = f"{self.base}/state"
        self.availability = f"{self.base}/availability"
        self.discovery_prefix = discovery_prefix
        self.homeassistant_status = f"{discovery_prefix}/status"

    def config(self, component: str, key: str) -> str:
        """Where the discovery message of entity `key` goes (no node id: the unique id says
        it all, as Home Assistant advises)."""
        return f"{self.discovery_prefix}/{component}/{unique_id(self.serial, key)}/config"
