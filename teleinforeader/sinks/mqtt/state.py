"""The state message: one JSON object per publication, the meter's picture with typed values.

Keys in capitals are the meter's own labels, each with `Frame.typed`: an integer for numbers
(indexes in Wh, powers in VA, kVA scaled to VA), the raw string otherwise (identifiers keep
their leading zeros, padded texts their spaces). Keys in lower case are derived here, so that a
subscriber needs no TIC knowledge: the tariff period, the Tempo colours, the total energy index,
the STGE status register decoded, the relays, the horodates. docs/mqtt.md lists them all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from teleinforeader.sinks.mqtt.picture import Snapshot
from teleinforeader.tic import HISTORIC, Frame, Horodate

# Historic PTEC -> the tariff period, whatever the option (Tempo adds the day's colour).
TARIFF_PERIODS = {
    "TH": "all_hours",
    "HC": "off_peak",
    "HP": "peak",
    "HN": "normal",
    "PM": "mobile_peak",
}
TEMPO_COLOURS = ("blue", "white", "red")
_PTEC_COLOURS = {"B": "blue", "W": "white", "R": "red"}
_DEMAIN_COLOURS = {"BLEU": "blue", "BLAN": "white", "ROUG": "red"}
# Historic tariff option (OPTARIF, 'BBR' + a programming character for Tempo) -> its indexes.
OPTION_INDEXES = {
    "BASE": ("BASE",),
    "HC..": ("HCHC", "HCHP"),
    "EJP.": ("EJPHN", "EJPHPM"),
    "BBR": ("BBRHCJB", "BBRHPJB", "BBRHCJW", "BBRHPJW", "BBRHCJR", "BBRHPJR"),
}
RELAYS = 8


def option_key(optarif: str | None) -> str | None:
    """The key of OPTION_INDEXES for an OPTARIF value ('BBR(' -> 'BBR')."""
    if optarif is None:
        return None
    return "BBR" if optarif.startswith("BBR") else optarif if optarif in OPTION_INDEXES else None


def is_tempo(values: Mapping[str, Any]) -> bool:
    """A Tempo contract: historic option BBRx, or a standard calendar named TEMPO or a status
    register that gives today's colour."""
    if "OPTARIF" in values:
        return option_key(values["OPTARIF"]) == "BBR"
    status = values.get("status")
    return "TEMPO" in str(values.get("NGTF", "")) or bool(status and status["tempo_today"])


def state_of(snapshot: Snapshot) -> dict[str, Any]:
    """The state object of `snapshot` (see the module docstring)."""
    sources = snapshot.sources()
    latest = snapshot.latest
    state: dict[str, Any] = {
        "time": latest.received_at.isoformat() if latest and latest.received_at else None,
        "serial": snapshot.serial,
        "mode": snapshot.mode,
    }
    for label, frame in sources.items():
        state[label] = frame.typed(label)
    if snapshot.mode == HISTORIC:
        _historic(state)
    else:
        _standard(state, sources)
    return state


def state_payload(snapshot: Snapshot) -> bytes:
    return json.dumps(state_of(snapshot), separators=(",", ":")).encode()


def _historic(state: dict[str, Any]) -> None:
    ptec = state.get("PTEC")
    if isinstance(ptec, str):
        state["tariff_period"] = TARIFF_PERIODS.get(ptec[:2])
    option = option_key(state.get("OPTARIF"))
    if option == "BBR":
        state["tempo_today"] = _PTEC_COLOURS.get(ptec[3]) if isinstance(ptec, str) else None
        state["tempo_tomorrow"] = _DEMAIN_COLOURS.get(state.get("DEMAIN", ""))
    indexes = [state.get(label) for label in OPTION_INDEXES.get(option or "", ())]
    if indexes and all(isinstance(index, int) for index in indexes):
        state["energy_total"] = sum(indexes)


def _standard(state: dict[str, Any], sources: dict[str, Frame]) -> None:
    if isinstance(state.get("EAST"), int):
        state["energy_total"] = state["EAST"]
    stge_frame = sources.get("STGE")
    stge = stge_frame.stge if stge_frame is not None else None
    if stge is not None:
        status = stge._asdict()
        del status["value"]
        status["tempo_today"] = _colour(status["tempo_today"])
        status["tempo_tomorrow"] = _colour(status["tempo_tomorrow"])
        state["status"] = status
    if is_tempo(state):
        status = state.get("status") or {}
        state["tempo_today"] = status.get("tempo_today")
        state["tempo_tomorrow"] = status.get("tempo_tomorrow")
    relais = state.get("RELAIS")
    if isinstance(relais, int):
        state["relays"] = [bool(relais >> bit & 1) for bit in range(RELAYS)]
    horodates = {}
    for label, frame in sources.items():
        raw = frame.raw_horodates.get(label)
        if raw is not None:
            horodates[label] = Horodate.parse(raw).time.isoformat()
    if horodates:
        state["horodates"] = horodates


def _colour(name: str) -> str | None:
    """STGE's colour names: 'none' (no colour known) becomes null."""
    return name if name in TEMPO_COLOURS else None
