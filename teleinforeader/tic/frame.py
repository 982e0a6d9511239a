"""The decoded frame: a read-only mapping label -> raw value, plus what the decoder learnt.

Values stay the raw strings the meter sent (TeleInfoMonitor and the JSON protocol want exactly
those); typed views (ints, VA, horodates, STGE fields) are computed on demand so that decoding a
frame costs no more than building one dict.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, Mapping, ValuesView
from datetime import datetime, timedelta, timezone
from typing import Union

from teleinforeader.record import Record
from teleinforeader.tic.labels import HISTORIC, LABELS, LabelSpec
from teleinforeader.tic.stge import Stge

WINTER = timezone(timedelta(hours=1), "CET")
SUMMER = timezone(timedelta(hours=2), "CEST")
_SEASONS = {"H": WINTER, "h": WINTER, "E": SUMMER, "e": SUMMER}
_OFFSETS = {"H": "+01:00", "h": "+01:00", "E": "+02:00", "e": "+02:00"}

Typed = Union[int, str]


class Rejection(Record):
    """A group the decoder refused, and why (`reason`: one of the reasons in `tic/groups.py`)."""

    reason: str
    label: str | None
    raw: bytes


class Horodate(Record):
    """A standard-mode timestamp: `SYYMMDDhhmmss` with S the season letter."""

    raw: str
    time: datetime  # tz-aware (H = UTC+1, E = UTC+2); naive when the season letter is a space
    degraded: bool  # lowercase season letter: the meter clock ran past its backup autonomy

    @classmethod
    def parse(cls, raw: str) -> Horodate:
        season = raw[0]
        naive = datetime(
            2000 + int(raw[1:3]),
            int(raw[3:5]),
            int(raw[5:7]),
            int(raw[7:9]),
            int(raw[9:11]),
            int(raw[11:13]),
        )
        tz = _SEASONS.get(season)
        return cls(raw, naive if tz is None else naive.replace(tzinfo=tz), season.islower())


def horodate_time(raw: str) -> str:
    """`Horodate.parse(raw).time.isoformat()` without building the time: a standard frame's
    DATE changes every frame, and its JSON line gives it. `raw` is a horodate the decoder
    accepted (its fields in range, a real date)."""
    return (
        f"20{raw[1:3]}-{raw[3:5]}-{raw[5:7]}T{raw[7:9]}:{raw[9:11]}:{raw[11:13]}"
        f"{_OFFSETS.get(raw[0], '')}"
    )


class Frame(Mapping[str, str]):
    """One valid frame: the groups that passed checksum and format checks, in arrival order.

    A frame the decoder built from the frame before it says so, for what keeps something per
    group (the guard, the JSON line) to redo only the groups that changed: `serial` numbers the
    decoder's frames (unique in the process; None for a frame built otherwise), and `follows`
    is the serial of the frame whose labels, in the same order, values and horodates this one
    repeats, but for the groups of the labels in `changed` (None: no such frame).
    """

    __slots__ = (
        "_groups",
        "_horodates",
        "changed",
        "follows",
        "mode",
        "received_at",
        "rejected",
        "serial",
        "unknown",
    )

    def __init__(
        self,
        groups: dict[str, str],
        mode: str,
        received_at: datetime | None = None,
        horodates: dict[str, str] | None = None,
        rejected: tuple[Rejection, ...] = (),
        unknown: frozenset[str] = frozenset(),
        *,
        serial: int | None = None,
        follows: int | None = None,
        changed: tuple[str, ...] = (),
    ) -> None:
        self._groups = groups
        self._horodates = horodates or {}
        self.mode = mode
        self.received_at = received_at
        self.rejected = rejected
        self.unknown = unknown
        self.serial = serial
        self.follows = follows
        self.changed = changed

    def __getitem__(self, label: str) -> str:
        return self._groups[label]

    def __iter__(self) -> Iterator[str]:
        return iter(self._groups)

    def __len__(self) -> int:
        return len(self._groups)

    def __contains__(self, label: object) -> bool:
        return label in self._groups

    # The mapping's views and get() straight from the groups' dict: what Mapping derives from
    # __getitem__ costs a Python call per label, and the guard, the JSON line and every sink
    # read every label of every frame.

    def get(self, label: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return self._groups.get(label, default)

    def keys(self) -> KeysView[str]:
        return self._groups.keys()

    def items(self) -> ItemsView[str, str]:
        return self._groups.items()

    def values(self) -> ValuesView[str]:
        return self._groups.values()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Frame):
            return (
                self._groups == other._groups
                and self._horodates == other._horodates
                and self.mode == other.mode
            )
        return Mapping.__eq__(self, other)

    __hash__ = None  # type: ignore[assignment]  # mutable-by-contract mapping semantics

    @property
    def labels(self) -> KeysView[str]:
        """The labels as a set-like view: set operations on it run at C speed (a sink asks
        which of the labels it follows a frame lacks, for every frame)."""
        return self._groups.keys()

    def same_values(self, other: Frame) -> bool:
        """The same labels with the same values, horodates aside (so DATE, which changes every
        frame, does not count): one dict comparison, for a sink that publishes on change."""
        return self._groups == other._groups

    def __repr__(self) -> str:
        return f"Frame({self.mode}, {self._groups!r})"

    # -- what the meter is -------------------------------------------------------------------

    @property
    def meter_id(self) -> str | None:
        """The meter's serial number (ADCO in historic mode, ADSC in standard mode)."""
        return self._groups.get("ADCO" if self.mode == HISTORIC else "ADSC")

    @property
    def is_short(self) -> bool:
        """A three-phase overrun short frame (ADIRn, ADCO, IINSTn): not a full picture."""
        return (
            self.mode == HISTORIC
            and "OPTARIF" not in self._groups
            and any(label.startswith("ADIR") for label in self._groups)
        )

    def spec(self, label: str) -> LabelSpec | None:
        return LABELS[self.mode].get(label)

    # -- typed views -------------------------------------------------------------------------

    def typed(self, label: str) -> Typed | None:
        """The value in its unit: an int for numbers (kVA scaled to VA), else the raw string."""
        raw = self._groups.get(label)
        if raw is None:
            return None
        spec = LABELS[self.mode].get(label)
        if spec is None or not spec.numeric:
            return raw
        return int(raw) * spec.scale

    def int(self, label: str) -> int | None:
        """The integer value of a numeric label, or None when absent or not numeric."""
        value = self.typed(label)
        return value if isinstance(value, int) else None

    def typed_values(self) -> dict[str, Typed]:
        return {label: self.typed(label) for label in self._groups}  # type: ignore[misc]

    @property
    def horodates(self) -> dict[str, Horodate]:
        """Standard-mode timestamps per label (DATE, SMAXSN, CCASN, ...)."""
        return {label: Horodate.parse(raw) for label, raw in self._horodates.items()}

    @property
    def raw_horodates(self) -> Mapping[str, str]:
        return self._horodates

    @property
    def stge(self) -> Stge | None:
        """The STGE status register decoded into named fields (standard mode)."""
        raw = self._groups.get("STGE")
        return None if raw is None else Stge.from_hex(raw)
