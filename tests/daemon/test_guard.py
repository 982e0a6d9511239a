"""The plausibility guard, frame by frame: what it publishes, holds, drops and counts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from teleinforeader.guard import (
    FALLBACK_POWER,
    MARGIN,
    MAX_WAITING,
    MIN_ELAPSED,
    REBASE_AFTER,
    PlausibilityGuard,
)
from teleinforeader.tic import HISTORIC, STANDARD, Decoder, Frame, decode, encode_frame

DATA = Path(__file__).parent.parent / "data"
START = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)
PERIOD = 1.3  # seconds between historic frames


def historic(base: int, at: float, *, adco: str = "021728123456", **extra: str) -> Frame:
    """A single-phase BASE frame on a 30 A subscription (6 kVA): 9 kVA with the margin."""
    groups = {"ADCO": adco, "OPTARIF": "BASE", "ISOUSC": "30", "BASE": f"{base:09d}"}
    groups.update({"IINST": "008", "PAPP": "01800", **extra})
    return Frame(groups, HISTORIC, START + timedelta(seconds=at))


def standard(east: int, at: float, *, pref: str = "12", **extra: str) -> Frame:
    groups = {"ADSC": "041876097654", "EAST": f"{east:09d}", "PREF": pref}
    groups.update({"IRMS1": "010", "URMS1": "231", "SINSTS": "02300", **extra})
    return Frame(groups, STANDARD, START + timedelta(seconds=at))


def run(guard: PlausibilityGuard, frames: list[Frame]) -> list[Frame]:
    published: list[Frame] = []
    for frame in frames:
        published += guard.check(frame)
    return published


def steady(guard: PlausibilityGuard, count: int = 3, base: int = 1_000_000) -> list[Frame]:
    """`count` frames of a 3.6 kW load (1.3 Wh a frame, rounded): a settled reference."""
    return run(guard, [historic(base + round(1.3 * n), n * PERIOD) for n in range(count)])


def test_the_first_value_waits_for_the_second_frame_then_both_flow_in_order() -> None:
    guard = PlausibilityGuard()
    first, second = historic(1_000_000, 0), historic(1_000_001, PERIOD)
    assert guard.check(first) == []
    assert guard.holding
    assert guard.check(second) == [first, second]
    assert guard.stats.held == 1
    assert guard.stats.confirmed == 1
    assert sum(guard.stats.rejected.values()) == 0


def test_a_steady_load_is_published_frame_by_frame() -> None:
    guard = PlausibilityGuard()
    published = steady(guard, 20)
    assert [f.int("BASE") for f in published] == [1_000_000 + round(1.3 * n) for n in range(20)]
    assert not guard.holding


def test_a_decrease_is_dropped_from_its_frame_and_counted() -> None:
    guard = PlausibilityGuard()
    steady(guard)
    lower = historic(999_990, 10)
    [published] = guard.check(lower)
    assert "BASE" not in published
    assert published["PAPP"] == "01800"  # the rest of the frame still flows
    assert published.received_at == lower.received_at
    assert guard.stats.rejected["decrease"] == 1


def test_a_swapped_digit_spike_is_held_then_dropped_when_not_confirmed() -> None:
    guard = PlausibilityGuard()
    published = steady(guard)  # BASE 1000003 is the reference
    spike = historic(1_000_030, 3 * PERIOD)  # "03" for "30": 27 Wh in 1.3 s is 75 kW
    after = historic(1_000_005, 4 * PERIOD)
    published += guard.check(spike)
    assert published[-1].int("BASE") == 1_000_003
    assert guard.holding
    released = guard.check(after)
    assert [f.received_at for f in released] == [spike.received_at, after.received_at]
    assert "BASE" not in released[0]
    assert released[0]["PAPP"] == "01800"
    assert released[1].int("BASE") == 1_000_005
    assert guard.stats.rejected["unconfirmed"] == 1


def test_a_real_jump_confirmed_by_the_next_frame_is_published_intact() -> None:
    guard = PlausibilityGuard()
    steady(guard)
    # The line was silent for a while but the frames are stamped close together (a backlog
    # read in one go): the jump looks impossible, and the next frame confirms it.
    jump = historic(1_000_050, 3 * PERIOD)
    after = historic(1_000_051, 4 * PERIOD)
    assert guard.check(jump) == []
    assert guard.check(after) == [jump, after]
    assert guard.stats.confirmed >= 1
    assert guard.stats.rejected["unconfirmed"] == 0


def test_a_held_value_waits_past_a_frame_that_lost_that_group_to_noise() -> None:
    guard = PlausibilityGuard()
    first = historic(1_000_000, 0)
    noisy = Frame({k: v for k, v in historic(1_000_001, PERIOD).items() if k != "BASE"}, HISTORIC)
    third = historic(1_000_003, 2 * PERIOD)
    assert guard.check(first) == []
    assert guard.check(noisy) == []  # it keeps its place behind the first
    assert guard.check(third) == [first, noisy, third]
    assert guard.stats.rejected["unconfirmed"] == 0


def test_three_phase_short_frames_wait_behind_a_held_frame() -> None:
    def long(base: int, at: float) -> Frame:
        groups = {"ADCO": "031964123456", "OPTARIF": "BASE", "ISOUSC": "20"}
        groups.update(BASE=f"{base:09d}", IINST1="021", IINST2="010", IINST3="010")
        return Frame(groups, HISTORIC, START + timedelta(seconds=at))

    def short(at: float) -> Frame:
        groups = {"ADIR1": "021", "ADCO": "031964123456", "IINST1": "021", "IINST2": "010"}
        return Frame(groups, HISTORIC, START + timedelta(seconds=at))

    guard = PlausibilityGuard()
    frames = [long(5_000_000, 0), short(0.7), short(1.4), long(5_000_003, 2.1)]
    assert guard.check(frames[0]) == []
    assert guard.check(frames[1]) == []
    assert guard.check(frames[2]) == []
    assert guard.check(frames[3]) == frames
    assert sum(guard.stats.rejected.values()) == 0


def test_a_held_frame_waits_for_at_most_max_waiting_frames() -> None:
    guard = PlausibilityGuard()
    steady(guard)
    spike = historic(1_000_900, 3 * PERIOD)
    without_base = [
        Frame({"ADCO": "021728123456", "PAPP": "01800"}, HISTORIC, START + timedelta(seconds=t))
        for t in range(5, 5 + MAX_WAITING)
    ]
    assert guard.check(spike) == []
    for frame in without_base[:-1]:
        assert guard.check(frame) == []
    released = guard.check(without_base[-1])
    assert released[1:] == without_base
    assert "BASE" not in released[0]
    assert released[0]["PAPP"] == "01800"
    assert guard.stats.rejected["unconfirmed"] == 1
    assert not guard.holding


def test_a_spike_confirmed_by_nothing_is_dropped_at_flush() -> None:
    guard = PlausibilityGuard()
    steady(guard)
    guard.check(historic(1_000_900, 10))
    [flushed] = guard.flush()
    assert "BASE" not in flushed
    assert guard.flush() == []
    assert guard.stats.rejected["unconfirmed"] == 1


def test_the_allowance_grows_with_the_time_elapsed() -> None:
    guard = PlausibilityGuard()
    steady(guard)
    # An hour of silence at 9 kVA allowed (30 A x 200 V x 1.5): 9 kWh more is plausible.
    later = historic(1_000_003 + 8_900, 3600 + 3 * PERIOD)
    assert guard.check(later) == [later]


def test_frames_decoded_from_one_chunk_share_a_time_and_still_pass() -> None:
    guard = PlausibilityGuard()
    frames = [historic(1_000_000 + 2 * n, 0) for n in range(5)]
    assert run(guard, frames) == frames
    assert sum(guard.stats.rejected.values()) == 0


def test_three_phase_subscription_is_isousc_times_600_volts() -> None:
    # ISOUSC 20 A per phase: 12 kVA, 18 kVA with the margin; 9 Wh in 1.3 s is 25 kW.
    def tri(base: int, at: float) -> Frame:
        groups = {"ADCO": "031964123456", "OPTARIF": "BASE", "ISOUSC": "20"}
        groups.update(BASE=f"{base:09d}", IINST1="010", IINST2="010", IINST3="010", PAPP="06000")
        return Frame(groups, HISTORIC, START + timedelta(seconds=at))

    guard = PlausibilityGuard()
    run(guard, [tri(5_000_000, 0), tri(5_000_004, PERIOD)])
    assert guard.power_limit == 20 * 600 * MARGIN
    # 18 kVA over the 2 s floor is 10 Wh, + 2 Wh slack: 11 Wh passes on three phases...
    fast = tri(5_000_004 + 11, 2 * PERIOD)
    assert guard.check(fast) == [fast]
    # ... and is held on one phase of 30 A (9 kVA: 5 Wh + 2 Wh).
    single = PlausibilityGuard()
    run(single, [historic(5_000_000, 0), historic(5_000_004, PERIOD)])
    assert single.power_limit == 30 * 200 * MARGIN
    assert single.check(historic(5_000_004 + 11, 2 * PERIOD)) == []


def test_three_phase_current_is_judged_per_phase() -> None:
    guard = PlausibilityGuard()
    groups = {"ADCO": "031964123456", "ISOUSC": "20", "IINST1": "031", "IINST2": "029"}
    published = run(guard, [Frame(groups, HISTORIC, START)])
    assert "IINST1" not in published[0]  # 31 A > 20 A x 1.5 on one phase
    assert published[0]["IINST2"] == "029"
    assert guard.stats.rejected["current"] == 1


def test_standard_mode_uses_pref_in_va() -> None:
    guard = PlausibilityGuard()
    run(guard, [standard(2_000_000, 0), standard(2_000_003, 0.9)])
    assert guard.power_limit == 12_000 * MARGIN
    # 18 kVA over the 2 s floor is 10 Wh (+ 2 Wh slack): 12 passes, 13 is held.
    assert guard.check(standard(2_000_015, 1.8))[-1].int("EAST") == 2_000_015
    assert guard.check(standard(2_000_028, 2.7)) == []
    assert guard.holding


def test_configured_max_power_overrides_the_subscription() -> None:
    guard = PlausibilityGuard(max_power=3600)
    run(guard, [historic(1_000_000, 0), historic(1_000_001, 1)])
    assert guard.power_limit == 3600
    # 3.6 kW over the 2 s floor is 2 Wh, + 2 Wh slack: 5 Wh more is held.
    assert guard.check(historic(1_000_006, 2)) == []


def test_without_any_subscription_a_residential_maximum_applies() -> None:
    guard = PlausibilityGuard()
    run(guard, [Frame({"ADCO": "021728123456", "BASE": "000000100"}, HISTORIC, START)])
    assert guard.power_limit == FALLBACK_POWER * MARGIN


def test_a_corrupted_small_subscription_does_not_lower_the_limit() -> None:
    guard = PlausibilityGuard()
    steady(guard)
    guard.check(historic(1_000_005, 4 * PERIOD, ISOUSC="03"))
    assert guard.power_limit == 30 * 200 * MARGIN


def test_another_meter_starts_from_scratch() -> None:
    guard = PlausibilityGuard()
    steady(guard)
    assert guard.check(historic(1_000_900, 5)) == []  # a jump, held
    replaced = historic(42, 10, adco="021899000001")  # a new meter starts near zero
    confirming = historic(43, 10 + PERIOD, adco="021899000001")
    # The old meter's held frame goes out without its unconfirmed index; the new one waits.
    [old] = guard.check(replaced)
    assert "BASE" not in old
    assert old["ADCO"] == "021728123456"
    assert guard.check(confirming) == [replaced, confirming]
    assert guard.stats.resets == 1
    assert guard.stats.rejected["decrease"] == 0
    assert guard.stats.rejected["unconfirmed"] == 1


def test_a_frame_without_meter_id_is_not_another_meter() -> None:
    guard = PlausibilityGuard()
    steady(guard)
    no_id = Frame({"BASE": "001000005", "PAPP": "01800"}, HISTORIC, START + timedelta(seconds=4))
    guard.check(no_id)
    assert guard.stats.resets == 0


def test_a_mode_switch_starts_from_scratch() -> None:
    guard = PlausibilityGuard()
    steady(guard)
    guard.check(standard(1_000_004, 5))
    assert guard.stats.resets == 1
    assert guard.holding  # EAST has no reference yet


def test_out_of_range_voltage_power_and_current_are_dropped() -> None:
    guard = PlausibilityGuard()
    frame = standard(2_000_000, 0, URMS1="320", SINSTS="32000", IRMS1="091")
    run(guard, [frame])
    [published] = run(guard, [standard(2_000_001, 1)])[:1]
    for label in ("URMS1", "SINSTS", "IRMS1"):
        assert label not in published
    assert published["PREF"] == "12"
    assert {r: guard.stats.rejected[r] for r in ("voltage", "power", "current")} == {
        "voltage": 1,
        "power": 1,
        "current": 1,
    }


def test_a_reference_every_later_value_contradicts_is_relearnt() -> None:
    guard = PlausibilityGuard()
    run(guard, [historic(1_000_900, 0), historic(1_000_900, PERIOD)])  # a wrong reference
    frames = [historic(1_000_000 + n, (n + 2) * PERIOD) for n in range(REBASE_AFTER + 2)]
    published = run(guard, frames)
    assert guard.stats.rebased == 1
    assert guard.stats.rejected["decrease"] == REBASE_AFTER
    assert len(published) == len(frames)
    assert all(f.int("BASE") is None for f in published[:REBASE_AFTER])
    assert [f.int("BASE") for f in published[REBASE_AFTER:]] == [
        1_000_000 + REBASE_AFTER,
        1_000_001 + REBASE_AFTER,
    ]


def test_a_trimmed_frame_keeps_raw_values_horodates_and_time() -> None:
    wire = encode_frame(
        [
            ("ADSC", "041876097654"),
            ("DATE", "H260115120000", ""),
            ("EAST", "002000000"),
            ("SMAXSN", "H260115080000", "04820"),
            ("PREF", "12"),
        ],
        STANDARD,
    )
    [first] = decode(wire, received_at=START)
    guard = PlausibilityGuard()
    assert guard.check(first) == []
    [released] = guard.flush()
    assert "EAST" not in released
    assert released.raw_horodates == {"DATE": "H260115120000", "SMAXSN": "H260115080000"}
    assert released["SMAXSN"] == "04820"
    assert released.received_at == START
    assert released.mode == STANDARD


@pytest.mark.parametrize("elapsed", [0.0, -5.0, MIN_ELAPSED / 2])
def test_no_time_or_a_clock_step_back_is_judged_over_the_floor(elapsed: float) -> None:
    guard = PlausibilityGuard()
    run(guard, [historic(1_000_000, 100), historic(1_000_001, 100 + PERIOD)])
    # 9 kVA over the 2 s floor is 5 Wh (+ 2 slack): 7 Wh more passes whatever the clock says.
    frame = historic(1_000_008, 100 + PERIOD + elapsed)
    assert guard.check(frame) == [frame]


def test_frames_without_a_time_are_judged_over_the_floor() -> None:
    guard = PlausibilityGuard()
    frames = [Frame(dict(historic(1_000_000 + 5 * n, 0)), HISTORIC) for n in range(3)]
    assert run(guard, frames) == frames
    assert guard.check(Frame(dict(historic(1_000_018, 0)), HISTORIC)) == []  # 8 Wh > 5 + 2


@pytest.mark.parametrize(
    "capture",
    [
        "historic-tempo-pyteleinfo-captured_frames.bin",
        "standard-mono-prod-fmartinou-teleinfo2mqtt.bin",
        # Noise removes an index from some frames: their neighbours wait, nothing is lost.
        "standard-tri-tempo-noisy-teleinfo-nom-stream_standard_raw.bin",
    ],
)
def test_real_captures_pass_untouched(capture: str) -> None:
    """Frames from real meters, stamped at their line's pace, come out exactly as they went in."""
    data = (DATA / capture).read_bytes()
    baud = 9600 if capture.startswith("standard") else 1200
    decoder, guard = Decoder(), PlausibilityGuard()
    decoded, published = [], []
    for start in range(0, len(data), 64):
        at = START + timedelta(seconds=(start + 64) * 10 / baud)
        frames = decoder.feed(data[start : start + 64], at)
        decoded += frames
        for frame in frames:
            published += guard.check(frame)
    assert len(decoded) >= 7
    assert published == decoded
    assert [f.received_at for f in published] == [f.received_at for f in decoded]
    assert sum(guard.stats.rejected.values()) == 0
