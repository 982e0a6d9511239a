"""The state message: one JSON object per publication, the meter's picture with typed values.

Keys in capitals are the meter's own labels, each with `Frame.typed`: an integer for numbers
(indexes in Wh, powers in VA, kVA scaled to VA), the raw string otherwise (identifiers keep
their leading zeros, padded texts their spaces). Keys in lower case are derived (by
`tic.tariffs`, as for the web page, in Home Assistant's words here), so that a subscriber needs
no TIC knowledge: the tariff period, the Tempo colours, the total energy index, the STGE status
register decoded, the relays, the horodates. docs/mqtt.md lists them all.
"""

from __future__ import annotations

import json
from typing import Any

from teleinforeader.sinks.mqtt.picture import Snapshot
from teleinforeader.tic import HISTORIC, Frame
from teleinforeader.tic.tariffs import current_period, known_colour, tempo_colours, total_energy

# The hours of a historic period (tic.tariffs.HISTORIC_HOURS) in Home Assistant's enum words.
TARIFF_PERIODS = {
    "all hours": "all_hours",
    "off-peak": "off_peak",
    "peak": "peak",
    "normal hours": "normal",
    "mobile peak": "mobile_peak",
}
RELAYS = 8


def state_of(snapshot: Snapshot) -> dict[str, Any]:
    """The state object of `snapshot` (see the module docstring)."""
    picture = snapshot.as_frame()
    latest = snapshot.latest
    state: dict[str, Any] = {
        "time": latest.received_at.isoformat() if latest and latest.received_at else None,
        "serial": snapshot.serial,
        "mode": snapshot.mode,
    }
    state.update(picture.typed_values())
    if snapshot.mode == HISTORIC:
        _historic(state, picture)
    else:
        _standard(state, picture)
    return state


def state_payload(snapshot: Snapshot) -> bytes:
    return json.dumps(state_of(snapshot), separators=(",", ":")).encode()


def _historic(state: dict[str, Any], picture: Frame) -> None:
    period = current_period(picture)
    if period is not None:
        state["tariff_period"] = TARIFF_PERIODS.get(period.hours or "")
    _tempo(state, picture)
    _total(state, picture)


def _standard(state: dict[str, Any], picture: Frame) -> None:
    _total(state, picture)
    stge = picture.stge
    if stge is not None:
        status = stge._asdict()
        del status["value"]
        status["tempo_today"] = known_colour(status["tempo_today"])
        status["tempo_tomorrow"] = known_colour(status["tempo_tomorrow"])
        state["status"] = status
    _tempo(state, picture)
    relais = state.get("RELAIS")
    if isinstance(relais, int):
        state["relays"] = [bool(relais >> bit & 1) for bit in range(RELAYS)]
    if picture.raw_horodates:
        state["horodates"] = {
            label: horodate.time.isoformat() for label, horodate in picture.horodates.items()
        }


def _tempo(state: dict[str, Any], picture: Frame) -> None:
    colours = tempo_colours(picture)
    if colours is not None:
        state["tempo_today"], state["tempo_tomorrow"] = colours


def _total(state: dict[str, Any], picture: Frame) -> None:
    total = total_energy(picture)  # strict: never a partial sum (a spike in the Energy panel)
    if total is not None:
        state["energy_total"] = total
