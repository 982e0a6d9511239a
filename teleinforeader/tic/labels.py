"""The label table: every TIC label we know, with its format, unit and meaning.

One place that the decoder (format checks), the database (columns) and the plausibility guard
(which labels are energy indexes) read from. Sources: Enedis-NOI-CPT_54E (standard mode and
historic mode on Linky) and the CPT_02E-era meter manuals (historic mode), as summarised in the
project's TIC reference.

Each spec carries a ``check`` callable built once here, so validating a value is one call on the
hot path: digits-only fixed-width numbers, hex status words, enumerations, bounded text.
"""

from __future__ import annotations

import re
from typing import Callable

HISTORIC = "historic"
STANDARD = "standard"

# Label kinds, used by consumers that need to know what a value is, not only its format.
INDEX = "index"  # energy counter: never decreases (plausibility guard, database)
POWER = "power"
CURRENT = "current"
VOLTAGE = "voltage"
IDENTIFIER = "identifier"
TARIFF = "tariff"
STATUS = "status"
TIME = "time"
MESSAGE = "message"
EVENT = "event"  # overrun warnings: present only while the event lasts

# A horodate: season letter (H winter, E summer, lowercase when the meter clock is degraded,
# space when no season applies) then YYMMDDhhmmss with plausible field ranges.
HORODATE_RE = re.compile(
    rb"[HEhe ]\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?:[01]\d|2[0-3])[0-5]\d[0-5]\d"
)
# Labels of meters we do not know yet: upper-case letters, digits, '+' and '-' (NJOURF+1).
LABEL_RE = re.compile(rb"[A-Z0-9][A-Z0-9+\-]{0,15}")

_HEX_DIGITS = frozenset(b"0123456789ABCDEF")


def _digits(length: int) -> Callable[[bytes], bool]:
    """Fixed-width, zero-padded decimal number (the common case)."""

    def check(value: bytes) -> bool:
        return len(value) == length and value.isdigit()

    check.is_number = True  # type: ignore[attr-defined]
    return check


def _hex(length: int) -> Callable[[bytes], bool]:
    def check(value: bytes) -> bool:
        return len(value) == length and _HEX_DIGITS.issuperset(value)

    return check


def _text(max_length: int) -> Callable[[bytes], bool]:
    """Free text (space-padded in standard mode). Control bytes are refused earlier, per group."""

    def check(value: bytes) -> bool:
        return len(value) <= max_length

    return check


def _pattern(regex: bytes) -> Callable[[bytes], bool]:
    """A value that matches `regex`, compiled on its label's first value: a meter sends few of
    the labels that have one, and compiling them all would cost a Pi Zero at every start."""
    fullmatch: Callable[[bytes], object] | None = None

    def check(value: bytes) -> bool:
        nonlocal fullmatch
        if fullmatch is None:
            fullmatch = re.compile(regex).fullmatch
        return fullmatch(value) is not None

    return check


def _empty(value: bytes) -> bool:
    return not value


# PJOURF+1 / PPOINTE: 11 blocks of 8 characters separated by spaces; a block is HHMM + a 16-bit
# action in hex, or NONUTILE for an unused slot.
_DAY_PROFILE = rb"(?:(?:[01]\d|2[0-3])[0-5]\d[0-9A-F]{4}|NONUTILE)"
_DAY_PROFILE_RE = rb"(?:" + _DAY_PROFILE + rb" ){10}" + _DAY_PROFILE


class LabelSpec:
    """What one label means and how its value must look (a plain class, not a dataclass: the
    table is built at every start, and a dataclass costs a Pi Zero its code generation)."""

    __slots__ = (
        "check",
        "horodate",
        "kind",
        "label",
        "meaning",
        "mode",
        "numeric",
        "producer_only",
        "scale",
        "three_phase_only",
        "unit",
    )

    def __init__(
        self,
        label: str,
        mode: str,
        meaning: str,
        unit: str | None,
        kind: str,
        check: Callable[[bytes], bool],
        numeric: bool = False,
        scale: int = 1,  # multiply the integer by this to get `typed_unit` (kVA -> VA)
        horodate: bool = False,  # standard mode: the group carries a horodate
        three_phase_only: bool = False,
        producer_only: bool = False,
    ) -> None:
        self.label, self.mode, self.meaning, self.unit, self.kind = label, mode, meaning, unit, kind
        self.check, self.numeric, self.scale, self.horodate = check, numeric, scale, horodate
        self.three_phase_only, self.producer_only = three_phase_only, producer_only

    def __repr__(self) -> str:
        return f"LabelSpec({self.label!r}, {self.mode!r}, {self.kind!r}, unit={self.unit!r})"

    @property
    def typed_unit(self) -> str | None:
        """The unit of the typed value (after scaling): PREF is sent in kVA, typed in VA."""
        return "VA" if self.unit == "kVA" else self.unit


def _spec(
    label: str,
    mode: str,
    meaning: str,
    unit: str | None,
    kind: str,
    check: Callable[[bytes], bool],
    **flags: object,
) -> LabelSpec:
    numeric = flags.pop("numeric", None)
    if numeric is None:
        numeric = getattr(check, "is_number", False) and kind != IDENTIFIER
    return LabelSpec(label, mode, meaning, unit, kind, check, bool(numeric), **flags)  # type: ignore[arg-type]


def _historic_table() -> dict[str, LabelSpec]:
    h = HISTORIC
    specs = [
        _spec("ADCO", h, "meter address (serial number)", None, IDENTIFIER, _digits(12)),
        _spec(
            "OPTARIF", h, "tariff option", None, TARIFF, _pattern(rb"BASE|HC\.\.|EJP\.|BBR[ -~]")
        ),
        _spec("ISOUSC", h, "subscribed current", "A", CURRENT, _digits(2)),
        _spec("BASE", h, "BASE option index", "Wh", INDEX, _digits(9)),
        _spec("HCHC", h, "off-peak hours index", "Wh", INDEX, _digits(9)),
        _spec("HCHP", h, "peak hours index", "Wh", INDEX, _digits(9)),
        _spec("EJPHN", h, "EJP normal hours index", "Wh", INDEX, _digits(9)),
        _spec("EJPHPM", h, "EJP mobile peak hours index", "Wh", INDEX, _digits(9)),
        _spec("BBRHCJB", h, "Tempo blue days off-peak index", "Wh", INDEX, _digits(9)),
        _spec("BBRHPJB", h, "Tempo blue days peak index", "Wh", INDEX, _digits(9)),
        _spec("BBRHCJW", h, "Tempo white days off-peak index", "Wh", INDEX, _digits(9)),
        _spec("BBRHPJW", h, "Tempo white days peak index", "Wh", INDEX, _digits(9)),
        _spec("BBRHCJR", h, "Tempo red days off-peak index", "Wh", INDEX, _digits(9)),
        _spec("BBRHPJR", h, "Tempo red days peak index", "Wh", INDEX, _digits(9)),
        _spec("PEJP", h, "EJP advance notice", "min", EVENT, _digits(2)),
        _spec(
            "PTEC",
            h,
            "current tariff period",
            None,
            TARIFF,
            _pattern(rb"TH\.\.|HC\.\.|HP\.\.|HN\.\.|PM\.\.|HCJB|HPJB|HCJW|HPJW|HCJR|HPJR"),
        ),
        _spec(
            "DEMAIN", h, "Tempo colour of tomorrow", None, TARIFF, _pattern(rb"----|BLEU|BLAN|ROUG")
        ),
        _spec("IINST", h, "RMS current", "A", CURRENT, _digits(3)),
        _spec("ADPS", h, "subscribed current overrun warning", "A", EVENT, _digits(3)),
        _spec("IMAX", h, "maximum current", "A", CURRENT, _digits(3)),
        _spec(
            "PMAX",
            h,
            "maximum three-phase power reached",
            "W",
            POWER,
            _digits(5),
            three_phase_only=True,
        ),
        _spec("PAPP", h, "apparent power", "VA", POWER, _digits(5)),
        _spec("HHPHC", h, "peak/off-peak schedule group", None, TARIFF, _pattern(rb"[A-Z0-9]")),
        _spec("MOTDETAT", h, "meter status word", None, STATUS, _hex(6)),
        _spec(
            "PPOT",
            h,
            "potentials present (bit n set: phase n missing)",
            None,
            STATUS,
            _hex(2),
            three_phase_only=True,
        ),
        _spec("GAZ", h, "gas index (concentrators)", "dal", INDEX, _digits(7)),
        _spec("AUTRE", h, "other fluid index (concentrators)", "dal", INDEX, _digits(7)),
    ]
    for phase in "123":
        specs += [
            _spec(
                f"IINST{phase}",
                h,
                f"RMS current, phase {phase}",
                "A",
                CURRENT,
                _digits(3),
                three_phase_only=True,
            ),
            _spec(
                f"IMAX{phase}",
                h,
                f"maximum current, phase {phase}",
                "A",
                CURRENT,
                _digits(3),
                three_phase_only=True,
            ),
            _spec(
                f"ADIR{phase}",
                h,
                f"current overrun warning, phase {phase}",
                "A",
                EVENT,
                _digits(3),
                three_phase_only=True,
            ),
        ]
    return {spec.label: spec for spec in specs}


def _standard_table() -> dict[str, LabelSpec]:
    s = STANDARD
    specs = [
        _spec("ADSC", s, "secondary meter address (serial number)", None, IDENTIFIER, _digits(12)),
        _spec("VTIC", s, "TIC version", None, STATUS, _digits(2), numeric=False),
        _spec("DATE", s, "meter date and time", None, TIME, _empty, horodate=True),
        _spec("NGTF", s, "supplier tariff calendar name", None, TARIFF, _text(16)),
        _spec("LTARF", s, "current supplier tariff label", None, TARIFF, _text(16)),
        _spec("EAST", s, "total active energy withdrawn", "Wh", INDEX, _digits(9)),
        _spec(
            "EAIT", s, "total active energy injected", "Wh", INDEX, _digits(9), producer_only=True
        ),
        _spec("IRMS1", s, "RMS current, phase 1", "A", CURRENT, _digits(3)),
        _spec("URMS1", s, "RMS voltage, phase 1", "V", VOLTAGE, _digits(3)),
        _spec(
            "PREF", s, "reference (subscribed) apparent power", "kVA", POWER, _digits(2), scale=1000
        ),
        _spec(
            "PCOUP", s, "breaking apparent power threshold", "kVA", POWER, _digits(2), scale=1000
        ),
        _spec("SINSTS", s, "instantaneous apparent power withdrawn", "VA", POWER, _digits(5)),
        _spec(
            "SMAXSN",
            s,
            "maximum apparent power withdrawn today",
            "VA",
            POWER,
            _digits(5),
            horodate=True,
        ),
        _spec(
            "SMAXSN-1",
            s,
            "maximum apparent power withdrawn yesterday",
            "VA",
            POWER,
            _digits(5),
            horodate=True,
        ),
        _spec(
            "SINSTI",
            s,
            "instantaneous apparent power injected",
            "VA",
            POWER,
            _digits(5),
            producer_only=True,
        ),
        _spec(
            "SMAXIN",
            s,
            "maximum apparent power injected today",
            "VA",
            POWER,
            _digits(5),
            horodate=True,
            producer_only=True,
        ),
        _spec(
            "SMAXIN-1",
            s,
            "maximum apparent power injected yesterday",
            "VA",
            POWER,
            _digits(5),
            horodate=True,
            producer_only=True,
        ),
        _spec(
            "CCASN",
            s,
            "load curve point n, active power withdrawn",
            "W",
            POWER,
            _digits(5),
            horodate=True,
        ),
        _spec(
            "CCASN-1",
            s,
            "load curve point n-1, active power withdrawn",
            "W",
            POWER,
            _digits(5),
            horodate=True,
        ),
        _spec(
            "CCAIN",
            s,
            "load curve point n, active power injected",
            "W",
            POWER,
            _digits(5),
            horodate=True,
            producer_only=True,
        ),
        _spec(
            "CCAIN-1",
            s,
            "load curve point n-1, active power injected",
            "W",
            POWER,
            _digits(5),
            horodate=True,
            producer_only=True,
        ),
        _spec("UMOY1", s, "mean voltage, phase 1", "V", VOLTAGE, _digits(3), horodate=True),
        _spec("STGE", s, "status register", None, STATUS, _hex(8)),
        _spec("MSG1", s, "short message", None, MESSAGE, _text(32)),
        _spec("MSG2", s, "ultra-short message", None, MESSAGE, _text(16)),
        _spec("PRM", s, "delivery point identifier", None, IDENTIFIER, _digits(14)),
        _spec("RELAIS", s, "relay states (bit n-1 = relay n closed)", None, STATUS, _digits(3)),
        _spec("NTARF", s, "number of the current supplier index", None, TARIFF, _digits(2)),
        _spec("NJOURF", s, "supplier calendar day profile, today", None, TARIFF, _digits(2)),
        _spec("NJOURF+1", s, "supplier calendar day profile, tomorrow", None, TARIFF, _digits(2)),
        _spec(
            "PJOURF+1",
            s,
            "supplier day profile of tomorrow",
            None,
            TARIFF,
            _pattern(_DAY_PROFILE_RE),
        ),
        _spec(
            "PPOINTE", s, "profile of the next peak day", None, TARIFF, _pattern(_DAY_PROFILE_RE)
        ),
        # Pilot-series Linky (type codes 67/68) names, reported by one implementation only.
        _spec(
            "SINST1",
            s,
            "instantaneous apparent power (pilot-series meters)",
            "VA",
            POWER,
            _digits(5),
        ),
        _spec(
            "SMAXN",
            s,
            "maximum apparent power today (pilot-series meters)",
            "VA",
            POWER,
            _digits(5),
            horodate=True,
        ),
        _spec(
            "SMAXN-1",
            s,
            "maximum apparent power yesterday (pilot-series meters)",
            "VA",
            POWER,
            _digits(5),
            horodate=True,
        ),
    ]
    for n in range(1, 11):
        specs.append(
            _spec(
                f"EASF{n:02d}", s, f"energy withdrawn, supplier index {n}", "Wh", INDEX, _digits(9)
            )
        )
    for n in range(1, 5):
        specs.append(
            _spec(
                f"EASD{n:02d}",
                s,
                f"energy withdrawn, distributor index {n}",
                "Wh",
                INDEX,
                _digits(9),
            )
        )
        specs.append(
            _spec(
                f"ERQ{n}",
                s,
                f"total reactive energy, quadrant {n}",
                "VArh",
                INDEX,
                _digits(9),
                producer_only=True,
            )
        )
    for phase in "123":
        if phase != "1":
            specs += [
                _spec(
                    f"IRMS{phase}",
                    s,
                    f"RMS current, phase {phase}",
                    "A",
                    CURRENT,
                    _digits(3),
                    three_phase_only=True,
                ),
                _spec(
                    f"URMS{phase}",
                    s,
                    f"RMS voltage, phase {phase}",
                    "V",
                    VOLTAGE,
                    _digits(3),
                    three_phase_only=True,
                ),
                _spec(
                    f"UMOY{phase}",
                    s,
                    f"mean voltage, phase {phase}",
                    "V",
                    VOLTAGE,
                    _digits(3),
                    horodate=True,
                    three_phase_only=True,
                ),
            ]
        specs += [
            _spec(
                f"SINSTS{phase}",
                s,
                f"instantaneous apparent power withdrawn, phase {phase}",
                "VA",
                POWER,
                _digits(5),
                three_phase_only=True,
            ),
            _spec(
                f"SMAXSN{phase}",
                s,
                f"maximum apparent power withdrawn today, phase {phase}",
                "VA",
                POWER,
                _digits(5),
                horodate=True,
                three_phase_only=True,
            ),
            _spec(
                f"SMAXSN{phase}-1",
                s,
                f"maximum apparent power withdrawn yesterday, phase {phase}",
                "VA",
                POWER,
                _digits(5),
                horodate=True,
                three_phase_only=True,
            ),
            _spec(
                f"DPM{phase}",
                s,
                f"start of mobile peak {phase}",
                None,
                TARIFF,
                _pattern(rb"[ -~]{2}"),
                horodate=True,
            ),
            _spec(
                f"FPM{phase}",
                s,
                f"end of mobile peak {phase}",
                None,
                TARIFF,
                _pattern(rb"[ -~]{2}"),
                horodate=True,
            ),
        ]
    return {spec.label: spec for spec in specs}


HISTORIC_LABELS: dict[str, LabelSpec] = _historic_table()
STANDARD_LABELS: dict[str, LabelSpec] = _standard_table()
LABELS: dict[str, dict[str, LabelSpec]] = {HISTORIC: HISTORIC_LABELS, STANDARD: STANDARD_LABELS}
