"""The plausibility guard: drops values that passed the 6-bit checksum but cannot be true.

The group checksum is a 6-bit sum, blind to swapped digits: `BASE 001234567` read as
`BASE 001243567` passes and puts a 9 kWh spike on every energy dashboard. The guard knows what
a meter can do:

- an energy index never decreases: a lower value is dropped from its frame and counted;
- an index grows at most as fast as the subscribed power allows over the time elapsed between
  two frames (ISOUSC x 200 V, x 600 V three-phase, or PREF, times a margin; or the configured
  `max_power`): a bigger jump is held back until the next frame carrying that index confirms
  it (its value is at least the held one and plausible from it);
- instantaneous current, voltage and power stay within what the connection can carry.

"Held back" holds the WHOLE frame, not only the suspicious group. The next frame decides: the
held frame then goes out intact (jump confirmed) or without the group (spike), followed by the
next frame. So every good reading is published exactly once with its own time, a spike never
is, and the price is one frame of delay (1-2 s) in the rare case of a jump. Frames that do not
carry the index (noise took that group, or three-phase short frames during an overrun) wait
behind the held one, in order, up to MAX_WAITING frames; then it goes out without the value.
The first value of an index has nothing to compare with, so it is held too: a spike in the very
first frame would otherwise become the reference every later good value "decreases" from.

A new meter (another serial number) or a mode switch starts from scratch. Pure logic: no
threads, no clock (elapsed time is the difference of the frames' `received_at`), no logging.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from teleinforeader.tic import Frame
from teleinforeader.tic.labels import INDEX

MARGIN = 1.5  # real loads exceed the subscription for a while before the breaker trips
SINGLE_PHASE_VOLTS = 200  # the voltage Enedis computes ISOUSC with (PREF / 200 V)
THREE_PHASE_VOLTS = 600  # three phases of 200 V: ISOUSC is per phase
FALLBACK_POWER = 36_000  # VA: the largest residential subscription, when the meter tells none
# Frames decoded from one chunk are stamped microseconds apart, and a frame's values may be
# sampled up to a frame cycle (about 2 s) before it is received: never judge over less than this.
MIN_ELAPSED = 2.0
SLACK_WH = 2  # indexes count whole Wh: a frame may carry a rounding step more than the next
MAX_VOLTAGE = 300  # V: 230 V + 10 % is 253 V; a swapped "230" reads 320 or 302
REBASE_AFTER = 10  # consecutive consistent lower values: the reference itself was wrong
# Frames that may wait behind a held one whose index they do not carry (a group lost to noise,
# three-phase short frames during an overrun) before it goes out without the unconfirmed value.
MAX_WAITING = 4

DECREASE = "decrease"
UNCONFIRMED = "unconfirmed"
CURRENT = "current"
VOLTAGE = "voltage"
POWER = "power"
REASONS = (DECREASE, UNCONFIRMED, CURRENT, VOLTAGE, POWER)

_CURRENT_LABELS = frozenset({"IINST", "IINST1", "IINST2", "IINST3", "IRMS1", "IRMS2", "IRMS3"})
_VOLTAGE_LABELS = frozenset({"URMS1", "URMS2", "URMS3", "UMOY1", "UMOY2", "UMOY3"})
_POWER_LABELS = frozenset({"PAPP", "SINSTS", "SINSTS1", "SINSTS2", "SINSTS3", "SINST1"})


@dataclass
class GuardStats:
    """Counters for the summary line; they only ever grow."""

    # Groups removed from published frames, by reason. Every reason is present from the start so
    # that another thread can copy the counter while this one updates it.
    rejected: Counter = field(default_factory=lambda: Counter(dict.fromkeys(REASONS, 0)))
    held: int = 0  # index values held back until a later frame
    confirmed: int = 0  # held values a later frame confirmed
    resets: int = 0  # another meter or another mode: references forgotten
    rebased: int = 0  # references dropped after REBASE_AFTER consistent lower values

    def as_dict(self) -> dict[str, int]:
        counters = {f"rejected_{reason}": n for reason, n in self.rejected.items()}
        counters.update(
            held=self.held, confirmed=self.confirmed, resets=self.resets, rebased=self.rebased
        )
        return counters


class _Reading(NamedTuple):
    value: int
    at: datetime | None


class _Waiting:
    """A frame on hold: the index values it waits to see confirmed, those found to be spikes."""

    __slots__ = ("frame", "spikes", "values")

    def __init__(self, frame: Frame, values: dict[str, _Reading]) -> None:
        self.frame = frame
        self.values = values
        self.spikes: list[str] = []

    def release(self) -> Frame:
        """The frame without its spikes nor the values still unconfirmed."""
        return _without(self.frame, [*self.spikes, *self.values])


class PlausibilityGuard:
    """Feed it every frame in order with `check`; publish what it returns, in that order."""

    def __init__(self, max_power: int = 0, margin: float = MARGIN) -> None:
        self.max_power = max_power
        self.margin = margin
        self.stats = GuardStats()
        self._forget()

    def _forget(self) -> None:
        self._meter: str | None = None
        self._mode: str | None = None
        self._subscription = 0  # VA, the largest the meter announced
        self._three_phase = False
        self._accepted: dict[str, _Reading] = {}  # the reference value of each index
        self._lower: dict[str, tuple[_Reading, int]] = {}  # decreases in a row, per index
        # Frames on hold, oldest first: the first waits for confirmations, the others (if any)
        # only keep the order of publication.
        self._waiting: list[_Waiting] = []

    @property
    def holding(self) -> bool:
        """A frame waits for a later one."""
        return bool(self._waiting)

    def check(self, frame: Frame) -> list[Frame]:
        """Judge `frame`; return the frames ready to publish, oldest first (often just it)."""
        ready: list[Frame] = []
        if self._is_another_meter(frame):
            ready += self.flush()
            self._forget()
            self.stats.resets += 1
        self._mode = frame.mode
        self._meter = frame.meter_id or self._meter
        self._learn_subscription(frame)
        self._settle(frame)
        dropped, held = self._judge(frame)
        self._waiting.append(_Waiting(_without(frame, dropped), held))
        self.stats.held += len(held)
        while self._waiting and (not self._waiting[0].values or len(self._waiting) > MAX_WAITING):
            ready.append(self._release_oldest())
        return ready

    def flush(self) -> list[Frame]:
        """Every frame on hold, without the values nothing confirmed (at shutdown, or when
        another meter appears)."""
        return [self._release_oldest() for _ in range(len(self._waiting))]

    def _release_oldest(self) -> Frame:
        waiting = self._waiting.pop(0)
        self.stats.rejected[UNCONFIRMED] += len(waiting.values)
        return waiting.release()

    @property
    def power_limit(self) -> float:
        """The largest power (VA) an index may be credited with."""
        if self.max_power:
            return float(self.max_power)
        return (self._subscription or FALLBACK_POWER) * self.margin

    def _is_another_meter(self, frame: Frame) -> bool:
        if self._mode is None:
            return False
        meter = frame.meter_id
        return frame.mode != self._mode or (
            meter is not None and self._meter is not None and meter != self._meter
        )

    def _learn_subscription(self, frame: Frame) -> None:
        if "IINST1" in frame or "IRMS2" in frame:
            self._three_phase = True
        pref = frame.int("PREF")  # already in VA
        isousc = frame.int("ISOUSC")
        if isousc is not None:
            pref = max(pref or 0, isousc * self._volts)
        if pref:
            # The largest ever announced: a corrupted small value must not make good readings
            # look like spikes.
            self._subscription = max(self._subscription, pref)

    @property
    def _volts(self) -> int:
        return THREE_PHASE_VOLTS if self._three_phase else SINGLE_PHASE_VOLTS

    def _allowance(self, since: _Reading, at: datetime | None) -> float:
        """The most Wh an index may grow between `since` and `at`."""
        elapsed = MIN_ELAPSED
        if since.at is not None and at is not None:
            elapsed = max((at - since.at).total_seconds(), MIN_ELAPSED)
        return self.power_limit * elapsed / 3600 + SLACK_WH

    def _follows(self, since: _Reading, reading: _Reading) -> bool:
        """`reading` can come after `since` on a real meter."""
        return since.value <= reading.value <= since.value + self._allowance(since, reading.at)

    def _settle(self, frame: Frame) -> None:
        """Decide every held value `frame` carries a newer reading of: confirmed or a spike."""
        for waiting in self._waiting:
            for label in list(waiting.values):
                value = frame.int(label)
                if value is None:
                    continue  # not in this frame: keep waiting
                reading = waiting.values.pop(label)
                if self._follows(reading, _Reading(value, frame.received_at)):
                    self._accept(label, reading)
                    self.stats.confirmed += 1
                else:
                    waiting.spikes.append(label)
                    self.stats.rejected[UNCONFIRMED] += 1

    def _judge(self, frame: Frame) -> tuple[list[str], dict[str, _Reading]]:
        """(labels to drop now, index readings to hold until the next frame)."""
        dropped: list[str] = []
        held: dict[str, _Reading] = {}
        for label in frame:
            spec = frame.spec(label)
            if spec is None:
                continue
            if spec.kind == INDEX:
                value = frame.int(label)
                if value is None:
                    continue
                reading = _Reading(value, frame.received_at)
                reference = self._accepted.get(label)
                if reference is None:
                    held[label] = reading
                elif value < reference.value:
                    dropped.append(label)
                    self.stats.rejected[DECREASE] += 1
                    self._count_lower(label, reading)
                elif self._follows(reference, reading):
                    self._accept(label, reading)
                else:
                    held[label] = reading
            else:
                reason = self._out_of_range(label, frame.int(label))
                if reason is not None:
                    dropped.append(label)
                    self.stats.rejected[reason] += 1
        return dropped, held

    def _accept(self, label: str, reading: _Reading) -> None:
        self._accepted[label] = reading
        self._lower.pop(label, None)

    def _count_lower(self, label: str, reading: _Reading) -> None:
        """A reference that every later value contradicts, consistently, was itself wrong: after
        REBASE_AFTER such values it is forgotten and the index learnt again (held, confirmed)."""
        previous = self._lower.get(label)
        count = previous[1] + 1 if previous and self._follows(previous[0], reading) else 1
        if count >= REBASE_AFTER:
            del self._accepted[label]
            del self._lower[label]
            self.stats.rebased += 1
        else:
            self._lower[label] = (reading, count)

    def _out_of_range(self, label: str, value: int | None) -> str | None:
        if value is None:
            return None
        if label in _CURRENT_LABELS:
            # per phase: each phase of a three-phase line carries a third of the power
            return CURRENT if value > self.power_limit / self._volts else None
        if label in _VOLTAGE_LABELS:
            return VOLTAGE if value > MAX_VOLTAGE else None
        if label in _POWER_LABELS:
            return POWER if value > self.power_limit else None
        return None


def _without(frame: Frame, labels: Mapping[str, object] | list[str]) -> Frame:
    """`frame` minus the groups `labels` (the same object when there are none)."""
    if not labels:
        return frame
    groups = {label: value for label, value in frame.items() if label not in labels}
    horodates = {label: raw for label, raw in frame.raw_horodates.items() if label not in labels}
    return Frame(
        groups,
        frame.mode,
        frame.received_at,
        horodates,
        frame.rejected,
        frame.unknown.difference(labels),
    )
