"""What a frame says about the contract: its option and indexes, the period running and the
index it drives, the Tempo colours, the total energy, the subscribed power.

The label table says what each label is; this says how they combine on a real meter, for every
consumer that shows a reading (the web page, /metrics, MQTT, TeleInfoMonitor's BASE): in
historic mode the option (OPTARIF) says which indexes the meter counts on and the period (PTEC)
names the one counting now (HC.. -> HCHC); in standard mode NTARF numbers it (2 -> EASF02) and
LTARF names it. Pure functions of one frame, no state; a sink that needs other words (Home
Assistant's `off_peak`) translates these, it does not derive them again.
"""

from __future__ import annotations

from teleinforeader.record import Record
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
# The hours a historic period belongs to, by PTEC's first two characters, whatever the option
# (a Tempo period adds its day's colour).
HISTORIC_HOURS = {
    "TH": "all hours",
    "HC": "off-peak",
    "HP": "peak",
    "HN": "normal hours",
    "PM": "mobile peak",
}
# Historic tariff options (OPTARIF; Tempo is 'BBR' and a programming character) and the
# indexes each one counts on, one at a time.
HISTORIC_OPTIONS: dict[str, tuple[str, ...]] = {
    "BASE": ("BASE",),
    "HC..": ("HCHC", "HCHP"),
    "EJP.": ("EJPHN", "EJPHPM"),
    "BBR": ("BBRHCJB", "BBRHPJB", "BBRHCJW", "BBRHPJW", "BBRHCJR", "BBRHPJR"),
}
TEMPO_COLOURS = ("blue", "white", "red")
_DEMAIN_COLOURS = {"BLEU": "blue", "BLAN": "white", "ROUG": "red"}  # "----": not known yet
_PERIOD_COLOURS = {"B": "blue", "W": "white", "R": "red"}
STANDARD_TOTAL = "EAST"
# The apparent power drawn now, by mode: the first of these labels the meter sends.
INSTANT_POWER = {HISTORIC: ("PAPP",), STANDARD: ("SINSTS", "SINST1")}


class Period(Record):
    """The tariff period now: the index it drives and its name as the meter gives it."""

    index: str | None  # the label of the index counting now (HCHC, EASF02), None if unknown
    code: str  # PTEC, or NTARF as text
    name: str  # human words ("off-peak", or the supplier's LTARF, stripped)
    hours: str | None  # historic: a value of HISTORIC_HOURS ("off-peak" on a Tempo day too)


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
        return Period(index, code, name, HISTORIC_HOURS.get(code[:2]))
    number = frame.int("NTARF")
    if number is None:
        return None
    index = f"EASF{number:02d}"
    name = (frame.get("LTARF") or "").strip() or index_period(frame.mode, index)
    return Period(index, str(number), name, None)


def option_key(optarif: str | None) -> str | None:
    """The key of HISTORIC_OPTIONS for an OPTARIF value ('BBR(' -> 'BBR'), None if none."""
    if optarif is None:
        return None
    if optarif.startswith("BBR"):
        return "BBR"
    return optarif if optarif in HISTORIC_OPTIONS else None


def historic_option(frame: Frame) -> str | None:
    """The historic option of the frame (a key of HISTORIC_OPTIONS): OPTARIF's, or, when noise
    took OPTARIF, the option whose indexes the frame carries; None when neither says.

    OPTARIF first: after a change of option, a picture of the meter that keeps the indexes it
    last saw still holds the old option's."""
    option = option_key(frame.get("OPTARIF"))
    if option is not None:
        return option
    for option, indexes in HISTORIC_OPTIONS.items():
        if any(label in frame for label in indexes):
            return option
    return None


def is_tempo(frame: Frame) -> bool:
    """A Tempo contract: historic option BBRx; in standard mode a calendar (NGTF) named TEMPO,
    or a status register announcing a colour."""
    if frame.mode == HISTORIC:
        return historic_option(frame) == "BBR"
    if "TEMPO" in frame.get("NGTF", "").upper():
        return True
    stge = frame.stge
    return stge is not None and (stge.tempo_today != "none" or stge.tempo_tomorrow != "none")


def tempo_colours(frame: Frame) -> tuple[str | None, str | None] | None:
    """Today's and tomorrow's Tempo colours (each one of TEMPO_COLOURS, or None while not
    known), or None on a contract that has none."""
    if not is_tempo(frame):
        return None
    if frame.mode == HISTORIC:
        today = _PERIOD_COLOURS.get(frame.get("PTEC", "")[3:])  # HCJB: blue
        return today, _DEMAIN_COLOURS.get(frame.get("DEMAIN", ""))
    stge = frame.stge
    if stge is None:
        return None, None
    return known_colour(stge.tempo_today), known_colour(stge.tempo_tomorrow)


def known_colour(name: str) -> str | None:
    """A colour of the status register (STGE), None for its 'none' (no colour known)."""
    return name if name in TEMPO_COLOURS else None


def total_energy(frame: Frame) -> int | None:
    """The energy withdrawn since the meter was installed (Wh): EAST in standard mode; in
    historic mode the option's indexes added up (one of them counts at a time), only when the
    frame carries every one: a partial sum would be a drop on a graph, then a spike in Home
    Assistant's Energy dashboard when the missing index comes back. None otherwise."""
    if frame.mode != HISTORIC:
        return frame.int(STANDARD_TOTAL)
    option = historic_option(frame)
    if option is None:
        return None
    total = 0
    for label in HISTORIC_OPTIONS[option]:
        value = frame.int(label)
        if value is None:
            return None
        total += value
    return total


def subscribed_power(frame: Frame) -> tuple[int, str] | None:
    """The subscription as the meter states it: (ISOUSC, "A") historic, (PREF, "VA") standard."""
    label = "ISOUSC" if frame.mode == HISTORIC else "PREF"
    value = frame.int(label)
    if value is None:
        return None
    return value, "A" if frame.mode == HISTORIC else "VA"
