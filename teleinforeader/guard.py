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

import operator
from collections import Counter
from collections.abc import Mapping
from itertools import compress

from teleinforeader.record import Record
from teleinforeader.tic import Frame
from teleinforeader.tic.labels import INDEX, LABELS

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


def _checks(mode: str) -> dict[str, tuple[str, int]]:
    """label -> (what the guard checks: INDEX, CURRENT, VOLTAGE or POWER; the label's scale),
    for the numeric labels of `mode` the guard looks at. Looked up once per label of a frame,
    instead of the label table, its kind and the three sets of ranged labels."""
    checks = {}
    for label, spec in LABELS[mode].items():
        if not spec.numeric:
            continue
        if spec.kind == INDEX:
            checks[label] = (INDEX, spec.scale)
        elif label in _CURRENT_LABELS:
            checks[label] = (CURRENT, spec.scale)
        elif label in _VOLTAGE_LABELS:
            checks[label] = (VOLTAGE, spec.scale)
        elif label in _POWER_LABELS:
            checks[label] = (POWER, spec.scale)
    return checks


_CHECKS = {mode: _checks(mode) for mode in LABELS}
_INDEXES = {
    mode: frozenset(label for label, (kind, _) in _CHECKS[mode].items() if kind == INDEX)
    for mode in LABELS
}
_SCALES = {
    mode: {label: s.scale for label, s in LABELS[mode].items() if s.numeric} for mode in LABELS
}


def _number(frame: Frame, label: str) -> int | None:
    """`frame.int(label)`, without going through the label's spec."""
    raw = frame.get(label)
    if raw is None:
        return None
    scale = _SCALES[frame.mode].get(label)
    return None if scale is None else int(raw) * scale


class GuardStats:
    """Counters for the summary line; they only ever grow."""

    def __init__(self) -> None:
        # Groups removed from published frames, by reason. Every reason is present from the
        # start so that another thread can copy the counter while this one updates it.
        self.rejected: Counter[str] = Counter(dict.fromkeys(REASONS, 0))
        self.held = 0  # index values held back until a later frame
        self.confirmed = 0  # held values a later frame confirmed
        self.resets = 0  # another meter or another mode: references forgotten
        self.rebased = 0  # references dropped after REBASE_AFTER consistent lower values

    def as_dict(self) -> dict[str, int]:
        counters = {f"rejected_{reason}": n for reason, n in self.rejected.items()}
        counters.update(
            held=self.held, confirmed=self.confirmed, resets=self.resets, rebased=self.rebased
        )
        return counters


class _Reading(Record):
    value: int
    at: float | None  # the frame's received_at, as a POSIX timestamp: arithmetic on floats


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
        self._wh_per_second = self.power_limit / 3600  # set again for each frame

    def _forget(self) -> None:
        self._meter: str | None = None
        self._mode: str | None = None
        self._subscription = 0  # VA, the largest the meter announced
        self._three_phase = False
        # The reference of each index: its accepted value, and the time of the last frame that
        # carried that value.
        self._values: dict[str, int] = {}
        self._times: dict[str, float | None] = {}
        # label -> raw value known good: an index's reference, a reading found in range (under
        # limits that have not come down since), a value of a label not judged. A frame's
        # groups equal to these need no judging; on a real line that is most of them (a
        # standard frame changes in about ten of its fifty groups), so only the groups that
        # changed go through the checks.
        self._good: dict[str, str] = {}
        self._limits: dict[str, float] = {}  # the range limits the good readings were found in
        # After judging a frame of the decoder (its `serial`): the labels of that frame whose
        # value is not known good (dropped, held), and its index labels. Of the next frame, if
        # built from that one, only its `changed` groups and these need judging: the others
        # are known good, with no lookup at all. (A value held longer ago is decided by the
        # first later frame that carries its label: with that layout, the frame before.)
        self._judged: int | None = None
        self._unsure: list[str] = []
        self._indexes: frozenset[str] | set[str] = frozenset()
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
        self._wh_per_second = self.power_limit / 3600
        at = None if frame.received_at is None else frame.received_at.timestamp()
        if self._waiting:
            self._settle(frame, at)
        dropped, held = self._judge(frame, at)
        if not held and not self._waiting:  # the usual case: nothing waits, nothing to wait for
            ready.append(_without(frame, dropped))
            return ready
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
        pref = _number(frame, "PREF")  # already in VA
        isousc = _number(frame, "ISOUSC")
        if isousc is not None:
            pref = max(pref or 0, isousc * self._volts)
        if pref:
            # The largest ever announced: a corrupted small value must not make good readings
            # look like spikes.
            self._subscription = max(self._subscription, pref)

    @property
    def _volts(self) -> int:
        return THREE_PHASE_VOLTS if self._three_phase else SINGLE_PHASE_VOLTS

    def _follows(self, since: int, since_at: float | None, value: int, at: float | None) -> bool:
        """`value` at `at` can come after `since` (at `since_at`) on a real meter: not lower,
        and not more than the power limit allows over the time between them (an unchanged
        index always can)."""
        if value <= since:
            return value == since
        elapsed = MIN_ELAPSED
        if since_at is not None and at is not None:
            elapsed = max(at - since_at, MIN_ELAPSED)
        return value <= since + self._wh_per_second * elapsed + SLACK_WH

    def _settle(self, frame: Frame, at: float | None) -> None:
        """Decide every held value `frame` carries a newer reading of: confirmed or a spike."""
        for waiting in self._waiting:
            for label in list(waiting.values):
                value = _number(frame, label)
                if value is None:
                    continue  # not in this frame: keep waiting
                reading = waiting.values.pop(label)
                if self._follows(reading.value, reading.at, value, at):
                    self._accept(label, reading.value, reading.at)
                    self.stats.confirmed += 1
                else:
                    waiting.spikes.append(label)
                    self.stats.rejected[UNCONFIRMED] += 1

    def _judge(self, frame: Frame, at: float | None) -> tuple[list[str], dict[str, _Reading]]:
        """(labels to drop now, index readings to hold until the next frame)."""
        dropped: list[str] = []
        held: dict[str, _Reading] = {}
        mode = frame.mode
        checks = _CHECKS[mode]
        good = self._good
        power = self.power_limit
        # What a connection can carry: per phase, each phase of three carrying a third.
        limits = {CURRENT: power / self._volts, VOLTAGE: MAX_VOLTAGE, POWER: power}
        follows = frame.follows is not None and frame.follows == self._judged
        if any(limits[kind] < limit for kind, limit in self._limits.items()):
            good.clear()  # a reading in range before may not be now (three phases learnt)
            follows = False
        self._limits = limits
        if follows:  # judging again a value known good changes nothing: a few labels more
            changed = list(dict.fromkeys([*frame.changed, *self._unsure]))
            indexes = self._indexes
        else:  # the labels whose value is not known good, in passes at C speed
            labels = frame.keys()
            changed = list(
                compress(labels, map(operator.ne, frame.values(), map(good.get, labels)))
            )
            indexes = labels & _INDEXES[mode]
        values, times = self._values, self._times
        unchanged = indexes.difference(changed)
        if unchanged:  # most indexes, most frames: only the time of their value moves on
            times.update(dict.fromkeys(unchanged, at))
            if self._lower:
                for label in unchanged:
                    self._lower.pop(label, None)
        for label in changed:
            raw = frame[label]
            check = checks.get(label)
            if check is None:  # nothing to judge: known good as it is
                good[label] = raw
                continue
            kind, scale = check
            value = int(raw) * scale
            if kind == INDEX:
                reference = values.get(label)
                if reference is None:
                    held[label] = _Reading(value, at)
                elif value == reference:  # its raw text not yet known good (just confirmed)
                    self._accept(label, value, at)
                    good[label] = raw
                elif value < reference:
                    dropped.append(label)
                    self.stats.rejected[DECREASE] += 1
                    self._count_lower(label, _Reading(value, at))
                elif self._follows(reference, times[label], value, at):
                    self._accept(label, value, at)
                    good[label] = raw
                else:
                    held[label] = _Reading(value, at)
            elif value > limits[kind]:
                dropped.append(label)
                self.stats.rejected[kind] += 1
            else:
                good[label] = raw
        self._judged = frame.serial
        self._unsure = [*dropped, *held]
        self._indexes = indexes
        return dropped, held

    def _accept(self, label: str, value: int, at: float | None) -> None:
        """`value` becomes the reference of index `label`. Its raw text is learnt as good only
        where it is known (from the frame being judged); elsewhere the next frame's check finds
        the value equal to the reference and learns it then."""
        self._values[label] = value
        self._times[label] = at
        self._good.pop(label, None)
        self._lower.pop(label, None)

    def _count_lower(self, label: str, reading: _Reading) -> None:
        """A reference that every later value contradicts, consistently, was itself wrong: after
        REBASE_AFTER such values it is forgotten and the index learnt again (held, confirmed)."""
        previous = self._lower.get(label)
        count = 1
        if previous and self._follows(previous[0].value, previous[0].at, reading.value, reading.at):
            count = previous[1] + 1
        if count >= REBASE_AFTER:
            del self._values[label]
            del self._times[label]
            self._good.pop(label, None)
            del self._lower[label]
            self.stats.rebased += 1
        else:
            self._lower[label] = (reading, count)


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
