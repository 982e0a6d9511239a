"""One group (LF label SEP [horodate SEP] data SEP checksum CR): checksum, split, validate.

The two modes share one checksum formula and differ only in where the checked region ends:
historic excludes the separator before the checksum, standard includes it. Each mode is checked
with its own rule only: accepting "either rule" would let more corrupted groups through.

`parse_group` is a pure function of the group's bytes, so the decoder memoises it: on a real line
most groups repeat unchanged from frame to frame (identifiers, tariff, fixed values, slowly
moving indexes), and a dictionary hit is an order of magnitude cheaper than a parse.
"""

from __future__ import annotations

from datetime import date
from typing import Union

from teleinforeader.record import Record
from teleinforeader.tic.labels import HISTORIC, HORODATE_RE, LABEL_RE, LABELS, STANDARD

MAX_GROUP = 128  # the longest standard group (PJOURF+1) is 111 bytes

# Reasons a group is refused. Every one is counted by the decoder.
CHECKSUM = "checksum"
FORMAT = "format"  # checksum good, value not what its label allows
CHARSET = "charset"  # a control byte inside the group
MALFORMED = "malformed"  # separators missing or misplaced, no CR
TOO_LONG = "too_long"
DUPLICATE = "duplicate"  # the same label twice in one frame: the second one is refused

_SP = 0x20
_HT = 0x09
# Inside a group (LF and CR excluded) only printable ASCII and, in standard mode, HT may appear:
# deleting those characters must leave nothing (bytes.translate is one C pass, faster than re).
_PRINTABLE = bytes(range(0x20, 0x7F))
_ALLOWED = {HISTORIC: _PRINTABLE, STANDARD: _PRINTABLE + b"\t"}


class Group(Record):
    label: str
    value: str
    horodate: str | None
    known: bool


class Refused(Record):
    reason: str
    label: str | None


GroupResult = Union[Group, Refused]


def checksum(region: bytes) -> int:
    """The TIC checksum character of a checked region: (sum & 0x3F) + 0x20."""
    return (sum(region) & 0x3F) + 0x20


def _valid_horodate(horodate: bytes) -> bool:
    """SYYMMDDhhmmss with a real calendar date (the regex alone lets 31 February through)."""
    if not HORODATE_RE.fullmatch(horodate):
        return False
    if horodate[5:7] <= b"28":  # every month of every year has it (DATE changes every frame)
        return True
    try:
        date(2000 + int(horodate[1:3]), int(horodate[3:5]), int(horodate[5:7]))
    except ValueError:
        return False
    return True


def _label_of(body: bytes, sep: bytes) -> str | None:
    label = body.split(sep, 1)[0]
    return label.decode("ascii") if LABEL_RE.fullmatch(label) else None


def parse_group(group: bytes, mode: str) -> GroupResult:
    """Validate one group (the bytes between LF and CR, 7-bit) in `mode`."""
    if len(group) > MAX_GROUP:
        return Refused(TOO_LONG, None)
    standard = mode != HISTORIC
    sep = b"\t" if standard else b" "
    if group.translate(None, _ALLOWED[mode]):
        return Refused(CHARSET, _label_of(group, sep))
    if len(group) < 4 or group[-2] != (_HT if standard else _SP):
        return Refused(MALFORMED, _label_of(group, sep))
    # Historic: label..data (separator before the checksum excluded); standard: included.
    region = group[:-1] if standard else group[:-2]
    if checksum(region) != group[-1]:
        return Refused(CHECKSUM, _label_of(group, sep))
    fields = group[:-2].split(sep, 2) if standard else group[:-2].split(sep, 1)
    if len(fields) == 2:
        raw_label, value = fields
        horodate = None
    elif len(fields) == 3:
        raw_label, horodate, value = fields
        if b"\t" in value:
            return Refused(MALFORMED, _label_of(group, sep))
    else:
        return Refused(MALFORMED, _label_of(group, sep))
    label = raw_label.decode("ascii")
    spec = LABELS[mode].get(label)
    if spec is None and not LABEL_RE.fullmatch(raw_label):
        return Refused(FORMAT, None)
    if horodate is not None and not _valid_horodate(horodate):
        return Refused(FORMAT, label)
    if spec is None:
        return Group(
            label,
            value.decode("ascii"),
            None if horodate is None else horodate.decode("ascii"),
            False,
        )
    if spec.horodate != (horodate is not None) or not spec.check(value):
        return Refused(FORMAT, label)
    return Group(
        label, value.decode("ascii"), None if horodate is None else horodate.decode("ascii"), True
    )
