"""What a frame says about the contract: which index is counting now, its tariff period, the
Tempo colours, the total energy, the subscribed power.

The label table says what each label is; this says how they combine on a real meter, for the
consumers that show a reading to people (the web page, /metrics): in historic mode the period
(PTEC) names the index that counts (HC.. -> HCHC); in standard mode NTARF numbers it
(2 -> EASF02) and LTARF names it. Pure functions of one frame, no state.
"""

from __future__ import annotations

from typing import NamedTuple

from teleinforeader.tic.frame import Frame
from teleinforeader.tic.labels import HISTORIC, INDEX, LABELS, STANDARD

# Historic tariff periods (PTEC) and the index each one drives.
HISTORIC_PERIODS: dict[str, tuple[str, str]] = {
    "TH..": ("BASE", "all hours"),
    "HC..": ("HCHC", "off-peak"),
    "HP..": ("HCHP", "peak"),
    "HN..": ("EJPHN", "normal hours"),
    "PM..": ("EJPHPM", "mobile peak"),
    "HCJB": ("BBRHCJB", "blue day off-peak"),
    "HPJB": ("BBRHPJB", "blue day peak"),
    "HCJW": ("BBRHCJW", "white day off-peak"),
    "HPJW": ("BBRHPJW", "white day peak"),
    "HCJR": ("BBRHCJR", "red day off-peak"),
    "HPJR": ("BBRHPJR", "red day peak"),
}
# The period each historic index counts, by index label.
HISTORIC_INDEX_PERIODS: dict[str, str] = {index: name for index, name in HISTORIC_PERIODS.values()}
STANDARD_INDEX_PERIODS: dict[str, str] = {
    "EAST": "total withdrawn",
    "EAIT": "total injected",
    **{f"EASF{n:02d}": f"supplier index {n}" for n in range(1, 11)},
    **{f"EASD{n:02d}": f"distributor index {n}" for n in range(1, 5)},
}
# Historic DEMAIN and the colour of a Tempo period, in the words of the STGE decoding.
_DEMAIN_COLOURS = {"----": "unknown", "BLEU": "blue", "BLAN": "white", "ROUG": "red"}
_PERIOD_COLOURS = {"B": "blue", "W": "white", "R": "red"}
STANDARD_TOTAL = "EAST"
# The apparent power drawn now, by mode: the first of these labels the meter sends.
INSTANT_POWER = {HISTORIC: ("PAPP",), STANDARD: ("SINSTS", "SINST1")}


class Period(NamedTuple):
    """The tariff period now: the index it drives and its name as the meter gives it."""

    index: str | None  # the label of the index counting now (HCHC, EASF02), None if unknown
    code: str  # PTEC, or NTARF as text
    name: str  # human words ("off-peak", or the supplier's LTARF, stripped)


_ENERGY_INDEXES = {
    mode: tuple(spec.label for spec in specs.values() if spec.kind == INDEX and spec.unit == "Wh")
    for mode, specs in LABELS.items()
}


def energy_indexes(mode: str) -> tuple[str, ...]:
    """Every active-energy index label (Wh) of `mode`, in label-table order."""
    return _ENERGY_INDEXES[mode]


def instant_power(frame: Frame) -> str | None:
    """The label of the apparent power drawn now (PAPP, SINSTS), if the frame has one."""
    return next((label for label in INSTANT_POWER[frame.mode] if label in frame), None)


def index_period(mode: str, label: str) -> str:
    """The tariff period an index counts, in words ("off-peak", "supplier index 2")."""
    names = HISTORIC_INDEX_PERIODS if mode == HISTORIC else STANDARD_INDEX_PERIODS
    return names.get(label, label)


def current_period(frame: Frame) -> Period | None:
    """The period the frame says is running, or None when it does not say."""
    if frame.mode == HISTORIC:
        code = frame.get("PTEC")
        if code is None:
            return None
        index, name = HISTORIC_PERIODS.get(code, (None, code))
        return Period(index, code, name)
    number = frame.int("NTARF")
    if number is None:
        return None
    index = f"EASF{number:02d}"
    name = (frame.get("LTARF") or "").strip() or index_period(frame.mode, index)
    return Period(index, str(number), name)


def tempo_colours(frame: Frame) -> tuple[str, str] | None:
    """Today's and tomorrow's Tempo colours ("blue", "white", "red", "unknown" or "none"),
    or None on a contract that has none."""
    if frame.mode == HISTORIC:
        if not frame.get("OPTARIF", "").startswith("BBR"):
            return None
        today = _PERIOD_COLOURS.get(frame.get("PTEC", "")[3:], "unknown")  # HCJB: blue
        return today, _DEMAIN_COLOURS.get(frame.get("DEMAIN", "----"), "unknown")
    stge = frame.stge
    if stge is None or (stge.tempo_today == "none" and stge.tempo_tomorrow == "none"):
        return None
    return stge.tempo_today, stge.tempo_tomorrow


def total_energy(frame: Frame) -> int | None:
    """The energy withdrawn since the meter was installed (Wh): EAST in standard mode, the sum
    of the tariff indexes in historic mode (one of them counts at a time)."""
    if frame.mode != HISTORIC:
        return frame.int(STANDARD_TOTAL)
    values = [frame.int(label) for label in HISTORIC_INDEX_PERIODS if label in frame]
    return sum(value for value in values if value is not None) if values else None


def subscribed_power(frame: Frame) -> tuple[int, str] | None:
    """The subscription as the meter states it: (ISOUSC, "A") historic, (PREF, "VA") standard."""
    label = "ISOUSC" if frame.mode == HISTORIC else "PREF"
    value = frame.int(label)
    if value is None:
        return None
    return value, "A" if frame.mode == HISTORIC else "VA"
