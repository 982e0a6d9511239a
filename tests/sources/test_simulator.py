"""The simulated meter: clean frames for every profile, determinism, and physics that add up."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import islice

import pytest
from source_helpers import DecodingProtocol, SourceThread, wait_for

from teleinforeader.settings import SourceSettings
from teleinforeader.sources import create_source
from teleinforeader.sources.simulator import (
    DEFAULT_PROFILE,
    PROFILES,
    Simulator,
    SimulatorSource,
)
from teleinforeader.tic import Decoder, Frame


def run(simulator: Simulator, count: int) -> list[tuple[Frame, datetime]]:
    """Decode `count` frames in the profile's own mode, each with the simulated local time."""
    decoder = Decoder(simulator.profile.mode)
    out = []
    for wire in islice(simulator.frames(), count):
        (frame,) = decoder.feed(wire)
        out.append((frame, simulator.now()[0]))
    assert decoder.stats.rejected_groups == 0
    return out


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_profile_sends_frames_the_decoder_fully_accepts(profile: str) -> None:
    frames = run(Simulator(profile, seed=7), 300)
    assert len(frames) == 300
    for frame, _ in frames:
        assert frame.mode == PROFILES[profile].mode
        assert frame.rejected == () and frame.unknown == frozenset()


def test_the_default_is_a_single_phase_historic_base_meter() -> None:
    assert DEFAULT_PROFILE == "historic-base"
    frame, _ = run(Simulator(), 1)[0]
    assert frame["OPTARIF"] == "BASE" and "IINST" in frame and "IINST2" not in frame


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    for profile in PROFILES:
        first = list(islice(Simulator(profile, seed=3).frames(), 50))
        again = list(islice(Simulator(profile, seed=3).frames(), 50))
        other = list(islice(Simulator(profile, seed=4).frames(), 50))
        assert first == again
        assert first != other


def test_indexes_grow_by_the_active_power_times_the_time() -> None:
    """A day at one frame a minute: the index credits PAPP x power factor x 60 s each frame."""
    frames = run(Simulator("historic-base", seed=1, seconds_per_frame=60), 1440)
    indexes = [frame.int("BASE") for frame, _ in frames]
    assert indexes == sorted(indexes)
    apparent_wh = sum((frame.int("PAPP") + 5) * 60 / 3600 for frame, _ in frames[:-1])
    least_wh = sum((frame.int("PAPP") - 5) * 0.88 * 60 / 3600 for frame, _ in frames[:-1])
    grown = indexes[-1] - indexes[0]
    assert least_wh - 1 <= grown <= apparent_wh + 1
    assert 2_000 < grown < 40_000  # a household's day: a few kWh to a few tens


def test_apparent_power_is_current_times_voltage() -> None:
    for frame, _ in run(Simulator("standard-producer", seed=2, seconds_per_frame=120), 720):
        volts, amps = frame.int("URMS1"), frame.int("IRMS1")
        apparent = frame.int("SINSTS") + frame.int("SINSTI")
        assert abs(apparent - amps * volts) <= volts / 2 + amps / 2 + 1
        assert frame.int("SMAXSN") >= frame.int("SINSTS")
    for frame, _ in run(Simulator("historic-hchp", seed=2, seconds_per_frame=120), 720):
        amps = frame.int("IINST")
        assert abs(frame.int("PAPP") - amps * 232) <= 243 / 2 + 5 + amps * 11


def test_three_phase_meters_report_each_phase() -> None:
    for frame, _ in run(Simulator("historic-tri", seed=5, seconds_per_frame=60), 300):
        assert {"IINST1", "IINST2", "IINST3", "PMAX", "PPOT"} <= set(frame)
        assert "IINST" not in frame and frame["ISOUSC"] == "20"
    for frame, _ in run(Simulator("standard-tri", seed=5, seconds_per_frame=60), 300):
        phases = sum(frame.int(f"SINSTS{n}") for n in (1, 2, 3))
        assert abs(frame.int("SINSTS") - phases) <= 2
        assert frame.int("EAST") == sum(frame.int(f"EASF{n:02d}") for n in range(1, 11))
        assert abs(frame.int("EAST") - sum(frame.int(f"EASD0{n}") for n in range(1, 5))) <= 4


def test_peak_and_off_peak_hours_follow_the_simulated_clock() -> None:
    frames = run(Simulator("historic-hchp", seed=9), 400)  # real pace from 21:55
    periods = [frame["PTEC"] for frame, _ in frames]
    switch = periods.index("HC..")
    assert set(periods[:switch]) == {"HP.."} and set(periods[switch:]) == {"HC.."}
    assert frames[switch][1].hour == 22 and frames[switch - 1][1].hour == 21
    for (before, _), (after, _) in zip(frames, frames[1:]):
        credited = "HCHC" if before["PTEC"] == "HC.." else "HCHP"
        other = "HCHP" if credited == "HCHC" else "HCHC"
        assert after.int(credited) >= before.int(credited)
        assert after[other] == before[other]


def test_tempo_days_have_colours_announced_the_day_before() -> None:
    frames = run(Simulator("historic-tempo", seed=11, seconds_per_frame=300), 12 * 24 * 14)
    letters = {"BLEU": "B", "BLAN": "W", "ROUG": "R"}
    seen = set()
    announced = None
    for (before, local), (after, _) in zip(frames, frames[1:]):
        period = before["PTEC"]
        seen.add(period[3])
        credited = f"BBR{period[:2]}J{period[3]}"
        for label in (f"BBR{h}J{c}" for h in ("HC", "HP") for c in "BWR"):
            assert (
                (after.int(label) >= before.int(label))
                if label == credited
                else (after[label] == before[label])
            )
        if period[3] == "R":
            assert local.weekday() < 5 and local.month in (11, 12, 1, 2, 3)
        if local.hour == 6 and local.minute == 0 and announced is not None:
            assert period == f"HPJ{letters[announced]}"  # the announced colour came
        if before["DEMAIN"] != "----":
            assert local.hour >= 11 or local.hour < 6
            announced = before["DEMAIN"]
    assert len(seen) >= 2


def test_standard_date_follows_legal_time_across_the_spring_change() -> None:
    start = datetime(2026, 3, 29, 0, 50, tzinfo=timezone.utc)  # 01:50 winter time
    frames = run(Simulator("standard-mono", seed=1, start=start, seconds_per_frame=60), 20)
    dates = [frame.raw_horodates["DATE"] for frame, _ in frames]
    assert dates[:10] == [f"H2603290{1 + (50 + m) // 60}{(50 + m) % 60:02d}00" for m in range(10)]
    assert dates[10] == "E260329030000"  # 02:00 winter time is 03:00 summer time
    assert dates == sorted(dates, key=lambda stamp: stamp[1:])


def test_standard_date_advances_frame_by_frame_at_line_pace() -> None:
    frames = run(Simulator("standard-mono", seed=1), 30)
    dates = [frame.raw_horodates["DATE"][1:] for frame, _ in frames]
    assert dates == sorted(dates) and len(set(dates)) >= 25  # about 0.9 s a frame


def test_maxima_reset_at_midnight_and_periods_close_on_their_grid() -> None:
    frames = run(Simulator("standard-mono", seed=4, seconds_per_frame=30), 2 * 60 * 5)
    for (before, local), (after, later) in zip(frames, frames[1:]):
        assert after.raw_horodates["CCASN"][9:] in ("0000", "3000")
        assert after.raw_horodates["UMOY1"][10:] == "000"
        if later.date() != local.date():  # midnight came
            assert after["SMAXSN-1"] == before["SMAXSN"]
            assert after.raw_horodates["SMAXSN-1"] == before.raw_horodates["SMAXSN"]
        else:
            assert after.int("SMAXSN") >= before.int("SMAXSN")


def test_a_producer_injects_at_noon_and_says_so_in_its_status() -> None:
    start = datetime(2026, 6, 15, 9, 0, tzinfo=timezone.utc)
    frames = run(Simulator("standard-producer", seed=6, start=start, seconds_per_frame=60), 240)
    injecting = [frame for frame, _ in frames if frame.int("SINSTI") > 0]
    assert injecting
    for frame in injecting:
        assert frame.int("SINSTS") == 0
        assert int(frame["STGE"], 16) & 0x300 == 0x300  # producer, energy flowing out
    assert frames[-1][0].int("EAIT") > frames[0][0].int("EAIT")


def test_the_source_plays_the_simulator_to_a_protocol() -> None:
    protocol = DecodingProtocol()
    source = SimulatorSource("standard-tri", seed=1, speed=0)
    assert source.baud == 9600 and "standard-tri" in source.describe()
    with SourceThread(source, protocol):
        wait_for(lambda: len(protocol.frames) >= 20)
    assert protocol.decoder.stats.rejected_groups == 0
    assert source.counters()["frames"] == len(protocol.frames)
    assert protocol.losses == [None]


def test_the_paced_source_sends_frames_at_line_time() -> None:
    """A historic frame takes about 1.3 s on the line: 100 times faster, 0.013 s."""
    protocol = DecodingProtocol()
    source = SimulatorSource(speed=100)
    started = datetime.now()
    with SourceThread(source, protocol):
        wait_for(lambda: len(protocol.frames) >= 10)
    elapsed = datetime.now() - started
    assert elapsed >= timedelta(seconds=9 * 152 * 10 / 1200 / 100)  # lower bound only


def test_create_source_builds_a_simulator() -> None:
    source = create_source(SourceSettings(type="simulator", profile="historic-tempo", seed=3))
    assert isinstance(source, SimulatorSource)
    assert source.simulator.profile.name == "historic-tempo" and source.baud == 1200
    with pytest.raises(ValueError, match=r"source\.profile must be one of historic-base"):
        create_source(SourceSettings(type="simulator", profile="linky"))
