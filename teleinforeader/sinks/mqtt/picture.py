"""The meter as last seen: what a published state describes, frame after frame.

A state is one frame's values, with two corrections a dashboard needs:
- a value missing for a moment keeps its last good value: an energy index the plausibility
  guard removed (a refused decrease or spike) or a group the decoder refused (line noise). An
  index therefore never disappears nor goes down between two states;
- three-phase historic meters send short frames during an overrun (ADIRn, ADCO, IINSTn), 20 for
  each long frame: they update those labels over the last long frame instead of replacing it,
  and a long frame inside that cycle does not end the overrun warnings; two long frames in a
  row (the cycle is over) do.

Everything else comes and goes with the frames: ADPS ends with the overrun, MSG2 is sent once.
`see` runs on the pipeline thread for every frame and only moves references; the worker thread
reads an immutable `Snapshot`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from teleinforeader.record import Record
from teleinforeader.tic import HISTORIC, LABELS, Frame
from teleinforeader.tic.labels import INDEX

OVERRUN_LABELS = frozenset({"ADIR1", "ADIR2", "ADIR3"})


class Snapshot(Record):
    """One meter's picture at one moment: read-only, safe to hand to another thread."""

    serial: str
    mode: str
    frame: Frame | None  # the latest long frame
    carried: Mapping[str, Frame]  # label -> the earlier frame its value comes from
    short: Frame | None  # the latest short frame, when an overrun cycle is on
    short_fresh: bool  # no long frame came after `short`

    def sources(self) -> dict[str, Frame]:
        """label -> the frame whose value the state publishes (the long frame's labels first)."""
        sources = dict.fromkeys(self.frame, self.frame) if self.frame is not None else {}
        sources.update(self.carried)  # labels the long frame lacks, by construction
        if self.short is not None:
            labels: Iterable[str] = (
                iter(self.short)
                if self.short_fresh
                else (label for label in self.short if label in OVERRUN_LABELS)
            )
            for label in labels:
                sources[label] = self.short
        return sources

    def as_frame(self) -> Frame:
        """The picture as one frame (each label's value and horodate from the frame `sources`
        names), which `tic.tariffs` reads as it reads any frame."""
        sources = self.sources()
        horodates = {}
        for label, frame in sources.items():
            raw = frame.raw_horodates.get(label)
            if raw is not None:
                horodates[label] = raw
        latest = self.latest
        return Frame(
            {label: frame[label] for label, frame in sources.items()},
            self.mode,
            received_at=latest.received_at if latest is not None else None,
            horodates=horodates,
        )

    @property
    def latest(self) -> Frame | None:
        """The most recent frame of the picture."""
        return self.short if self.short is not None and self.short_fresh else self.frame


class MeterPicture:
    """Folds the frames of one meter (one serial number, one mode) into a `Snapshot`."""

    def __init__(self, serial: str, mode: str) -> None:
        self.serial = serial
        self.mode = mode
        self._frame: Frame | None = None
        self._carried: dict[str, Frame] = {}
        self._short: Frame | None = None
        self._short_fresh = False
        self._indexes: set[str] = set()  # index labels this meter has sent
        self._labels_seen = 0  # labels in the long frame the index set was last read from
        self._specs = LABELS[mode]

    def see(self, frame: Frame) -> None:
        # Every long historic frame has OPTARIF; a short one has ADCO and the currents, and
        # ADIRn only while phase n is over (none in the minute after the overrun ended).
        if frame.mode == HISTORIC and "OPTARIF" not in frame:
            self._short, self._short_fresh = frame, True
            return
        if self._short is not None:
            if self._short_fresh:
                self._short_fresh = False  # one long frame inside an overrun cycle
            else:
                self._short = None  # two long frames in a row: the cycle is over
        previous = self._frame
        if previous is not None:
            self._carried = self._carry(previous, frame)
        if len(frame) != self._labels_seen:
            self._labels_seen = len(frame)
            specs = self._specs
            self._indexes.update(
                label for label in frame if (spec := specs.get(label)) and spec.kind == INDEX
            )
        self._frame = frame

    def _carry(self, previous: Frame, frame: Frame) -> dict[str, Frame]:
        """Values `frame` lacks for a moment, with the frame each comes from."""
        carried: dict[str, Frame] = {}
        candidates = self._indexes.difference(frame.labels)  # nearly always empty
        if frame.rejected:
            candidates.update(r.label for r in frame.rejected if r.label)
            candidates.difference_update(frame.labels)
        for label in candidates:
            if label in previous:
                carried[label] = previous
            elif label in self._carried:
                carried[label] = self._carried[label]
        return carried

    def snapshot(self) -> Snapshot:
        return Snapshot(
            self.serial,
            self.mode,
            self._frame,
            dict(self._carried),
            self._short,
            self._short_fresh,
        )
