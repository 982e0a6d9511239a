"""TeleInfoMonitor's view of any meter: the ten labels it reads, the eleven columns it plots.

TeleInfoMonitor (jlesauce/TeleInfoMonitor), the client this daemon was first written for, knows
one meter: historic mode, single-phase, BASE option. Its live view takes `frame["ADCO" |
"OPTARIF" | "ISOUSC" | "BASE" | "PTEC" | "IINST" | "IMAX" | "PAPP" | "HHPHC" | "MOTDETAT"]`
from each line, five of them through `int()` (model/tele_info_data.py, `_update_data`), and
skips a frame lacking one (a `KeyError`, logged); its daily plot takes the first eleven columns
of `SELECT * FROM teleinfodb.teleinfoframes` by position (`TeleInfoFrame.from_raw_data`). An
HC/HP, EJP or Tempo meter has no BASE, a three-phase one no IINST nor IMAX, a Linky in standard
mode none of the ten: TeleInfoMonitor shows nothing for them.

`MAPPINGS` says, for each kind of meter, where each of the ten comes from; the socket server
(`[server] teleinfomonitor`) sends them as the line's `frame` and the database writer
(`[database] teleinfomonitor`) stores them in those eleven columns. The rules:

- a label the meter sends is passed on as sent;
- BASE is the total energy (`tariffs.total_energy`: the sum of the option's tariff indexes,
  EAST in standard mode), IINST and IMAX of a three-phase meter the largest phase;
- a Linky in standard mode is shown as the same Linky shows itself in historic mode (Enedis
  NOI-CPT_54E): ISOUSC = PREF / 200 V (/ 3 on three phases), IMAX 090 (060 on three phases),
  HHPHC A, MOTDETAT 000000, OPTARIF and PTEC named from the supplier's NGTF and LTARF (a
  contract with none of the historic options shows as BASE, TH..);
- nothing is made up: a value whose labels the frame lacks (a group refused, a three-phase
  short frame) is left out, and TeleInfoMonitor skips that frame as it skips any incomplete
  one. HHPHC, which three-phase meters never send, is empty: a text TeleInfoMonitor only shows.
"""

from __future__ import annotations

import re
from typing import Callable, Union

from teleinforeader.record import Record
from teleinforeader.tic.frame import Frame
from teleinforeader.tic.labels import HISTORIC
from teleinforeader.tic.tariffs import (
    HISTORIC_OPTIONS,
    STANDARD_TOTAL,
    historic_option,
    total_energy,
)

SEED_LABELS = (
    "ADCO",
    "OPTARIF",
    "ISOUSC",
    "BASE",
    "PTEC",
    "IINST",
    "IMAX",
    "PAPP",
    "HHPHC",
    "MOTDETAT",
)
# The numeric ones, with the digits a historic meter pads them to.
WIDTHS = {"ISOUSC": 2, "BASE": 9, "IINST": 3, "IMAX": 3, "PAPP": 5}

Value = Union[int, str]


class Source(Record):
    """Where one of the ten labels comes from."""

    rule: str  # in words, as README's table says it
    value: Callable[[Frame], Value | None]  # None: the frame does not carry it


def sent(label: str) -> Source:
    return Source(label, lambda frame: frame.typed(label))


def sent_or_empty(label: str) -> Source:
    return Source(f"{label}, empty if not sent", lambda frame: frame.get(label, ""))


def largest(*labels: str) -> Source:
    def value(frame: Frame) -> int | None:
        values = [v for v in map(frame.int, labels) if v is not None]
        return max(values) if values else None

    return Source(f"the largest of {', '.join(labels)}", value)


def total_of(indexes: tuple[str, ...]) -> Source:
    """The total energy (`tariffs.total_energy`: strict, never a partial sum, which would be a
    drop in the total), said as the indexes it adds up."""
    return Source(" + ".join(indexes), total_energy)


def fixed(value: Value) -> Source:
    shown = f"{value:03d}" if isinstance(value, int) else value
    return Source(f"always {shown}", lambda frame: value)


def subscribed_current(phases: int) -> Source:
    """ISOUSC from PREF, as a Linky computes it in historic mode: PREF / 200 V, per phase."""

    def value(frame: Frame) -> int | None:
        volt_amperes = frame.int("PREF")  # kVA on the line, VA typed
        return None if volt_amperes is None else volt_amperes // 200 // phases

    per_phase = " / 3" if phases == 3 else ""
    return Source(f"PREF / 200 V{per_phase}", value)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[A-Z]+", text.upper()))


# NGTF names the supplier's contract in free text: the historic option it amounts to.
_OPTION_WORDS = (
    ("BBR(", {"TEMPO", "BBR"}),
    ("EJP.", {"EJP"}),
    ("HC..", {"HC", "HP", "CREUSE", "CREUSES", "PLEINE", "PLEINES"}),
)
_OFF_PEAK, _PEAK = {"HC", "CREUSE", "CREUSES"}, {"HP", "PLEINE", "PLEINES"}
_COLOUR_WORDS = {"BLEU": "B", "BLANC": "W", "ROUGE": "R"}
_STGE_COLOURS = {"blue": "B", "white": "W", "red": "R"}


def _text(frame: Frame, label: str) -> str | None:
    """An optional text group: "" when the meter did not send it, None when noise took it."""
    if label in frame:
        return frame[label]
    refused = any(rejection.label in (label, None) for rejection in frame.rejected)
    return None if refused else ""


def _option(frame: Frame) -> str | None:
    name = _text(frame, "NGTF")
    if name is None:
        return None
    words = _words(name)
    return next((code for code, names in _OPTION_WORDS if words & names), "BASE")


def _period(frame: Frame) -> str | None:
    """PTEC from LTARF (the supplier's name of the period now), in the contract's codes."""
    option, name = _option(frame), _text(frame, "LTARF")
    if option == "BASE":
        return "TH.."
    if option is None or name is None:
        return None
    words = _words(name)
    if option == "EJP.":
        return "PM.." if words & {"POINTE", "PM"} else "HN.."
    hours = "HC" if words & _OFF_PEAK else "HP" if words & _PEAK else ""
    if not hours or option == "HC..":
        return f"{hours}.." if hours else ""
    colour = next((_COLOUR_WORDS[w] for w in words if w in _COLOUR_WORDS), None)
    if colour is None and frame.stge is not None:
        colour = _STGE_COLOURS.get(frame.stge.tempo_today)
    return f"{hours}J{colour}" if colour else ""


OPTION_FROM_NGTF = Source(
    "from NGTF: TEMPO -> BBR(, EJP -> EJP., HC/HP -> HC.., else BASE", _option
)
PERIOD_FROM_LTARF = Source(
    "from LTARF (and STGE's colour): TH.., HC.., HP.., HN.., PM.., HCJB..HPJR", _period
)

_HISTORIC = {
    "ADCO": sent("ADCO"),
    "OPTARIF": sent("OPTARIF"),
    "ISOUSC": sent("ISOUSC"),
    "PTEC": sent("PTEC"),
    "IINST": sent("IINST"),
    "IMAX": sent("IMAX"),
    "PAPP": sent("PAPP"),
    "HHPHC": sent_or_empty("HHPHC"),
    "MOTDETAT": sent("MOTDETAT"),
}
_STANDARD = {
    "ADCO": sent("ADSC"),
    "OPTARIF": OPTION_FROM_NGTF,
    "ISOUSC": subscribed_current(1),
    "BASE": total_of((STANDARD_TOTAL,)),
    "PTEC": PERIOD_FROM_LTARF,
    "IINST": sent("IRMS1"),
    "IMAX": fixed(90),
    "PAPP": sent("SINSTS"),
    "HHPHC": fixed("A"),
    "MOTDETAT": fixed("000000"),
}
# The single-phase historic kinds, by option (`tariffs.HISTORIC_OPTIONS`), in table order.
HISTORIC_KINDS = {
    "BASE": "historic BASE",
    "HC..": "historic HC/HP",
    "EJP.": "historic EJP",
    "BBR": "historic Tempo",
}
HISTORIC_THREE_PHASE = "historic three-phase"
STANDARD_SINGLE_PHASE = "standard single-phase"
STANDARD_THREE_PHASE = "standard three-phase"

# The table: meter kind -> seed label -> where it comes from.
MAPPINGS: dict[str, dict[str, Source]] = {
    **{
        kind: {**_HISTORIC, "BASE": total_of(HISTORIC_OPTIONS[option])}
        for option, kind in HISTORIC_KINDS.items()
    },
    HISTORIC_THREE_PHASE: {
        **_HISTORIC,
        "BASE": Source("the option's indexes added up, as on one phase", total_energy),
        "IINST": largest("IINST1", "IINST2", "IINST3"),
        "IMAX": largest("IMAX1", "IMAX2", "IMAX3"),
    },
    STANDARD_SINGLE_PHASE: _STANDARD,
    STANDARD_THREE_PHASE: {
        **_STANDARD,
        "ISOUSC": subscribed_current(3),
        "IINST": largest("IRMS1", "IRMS2", "IRMS3"),
        "IMAX": fixed(60),
    },
}
_HISTORIC_PHASES = ("IINST1", "IINST2", "IINST3", "IMAX1", "IMAX2", "IMAX3")
_STANDARD_PHASES = ("IRMS2", "IRMS3", "URMS2", "URMS3", "SINSTS1", "SINSTS2", "SINSTS3")


def meter_kind(frame: Frame) -> str:
    """Which column of `MAPPINGS` the frame's meter is (a producer is single- or three-phase)."""
    if frame.mode != HISTORIC:
        three = any(label in frame for label in _STANDARD_PHASES)
        return STANDARD_THREE_PHASE if three else STANDARD_SINGLE_PHASE
    if any(label in frame for label in _HISTORIC_PHASES):
        return HISTORIC_THREE_PHASE
    return HISTORIC_KINDS[historic_option(frame) or "BASE"]


def seed_values(frame: Frame) -> tuple[str, dict[str, Value]]:
    """(the meter's kind, the seed labels the frame gives a value for -> that value: an int
    for the five numbers, else a string)."""
    kind = meter_kind(frame)
    mapping = MAPPINGS[kind]
    values: dict[str, Value] = {}
    for label in SEED_LABELS:
        value = mapping[label].value(frame)
        if value is not None:
            values[label] = value
    return kind, values


def seed_frame(values: dict[str, Value]) -> dict[str, str]:
    """The values as a historic meter writes them: numbers zero-padded to their width."""
    return {
        label: f"{value:0{WIDTHS[label]}d}" if isinstance(value, int) else value
        for label, value in values.items()
    }
