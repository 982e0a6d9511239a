"""The state a frame gives: its typed values, what it lacks for a moment kept, three-phase
overrun short frames over the last long frame, the derived values. Pure, no broker."""

from __future__ import annotations

from teleinforeader.sinks.mqtt.picture import MeterPicture
from teleinforeader.sinks.mqtt.state import state_of
from teleinforeader.tic import Frame, Rejection
from tests.support.groups import HISTORIC_HCHP, frame, without


def state_after(*frames: Frame) -> dict[str, object]:
    picture = MeterPicture(frames[0].meter_id or "", frames[0].mode)
    for each in frames:
        picture.see(each)
    return state_of(picture.snapshot())


def test_typed_values_and_the_derived_ones() -> None:
    state = state_after(frame(HISTORIC_HCHP))
    assert state["HCHC"] == 1_000_000 and state["PAPP"] == 2380 and state["ADCO"] == "021861348497"
    assert state["tariff_period"] == "peak"
    assert state["energy_total"] == 3_000_000
    assert state["serial"] == "021861348497" and state["mode"] == "historic"


def test_an_index_the_guard_removed_keeps_its_last_value_and_the_total_its_own() -> None:
    state = state_after(
        frame(HISTORIC_HCHP), frame(dict(without(HISTORIC_HCHP, "HCHP"), HCHC="001000005"))
    )
    assert state["HCHP"] == 2_000_000  # the previous, good value: never missing, never lower
    assert state["HCHC"] == 1_000_005
    assert state["energy_total"] == 3_000_005


def test_the_total_waits_for_every_index_of_the_option() -> None:
    """A total missing an index would jump by that index's whole value when it comes."""
    state = state_after(frame(without(HISTORIC_HCHP, "HCHP")))
    assert "energy_total" not in state


def test_a_group_lost_to_noise_keeps_its_last_value_but_an_ended_warning_does_not() -> None:
    first = frame(dict(HISTORIC_HCHP, ADPS="046"))
    noisy = frame(without(HISTORIC_HCHP, "PAPP"))
    noisy.rejected = (Rejection("checksum", "PAPP", b"PAPP 0238O ?"),)
    state = state_after(first, noisy)
    assert state["PAPP"] == 2380
    assert "ADPS" not in state  # the overrun is over: an event label is never carried


TRI = {
    "ADCO": "021330274552",
    "OPTARIF": "BASE",
    "ISOUSC": "20",
    "BASE": "012345678",
    "PTEC": "TH..",
    "IINST1": "010",
    "IINST2": "011",
    "IINST3": "012",
    "IMAX1": "060",
    "IMAX2": "060",
    "IMAX3": "060",
    "PMAX": "15020",
    "PAPP": "01095",
    "MOTDETAT": "000000",
    "PPOT": "00",
}


def short(adir2: bool, iinst2: str = "025") -> Frame:
    groups = {"ADIR2": "025"} if adir2 else {}
    groups.update(ADCO=TRI["ADCO"], IINST1="010", IINST2=iinst2, IINST3="012")
    return frame(groups)


def test_overrun_short_frames_update_the_last_long_frame_and_one_long_frame_keeps_the_warning() -> (
    None
):
    long = frame(TRI)
    state = state_after(long, short(True))
    assert state["ADIR2"] == 25 and state["IINST2"] == 25 and state["BASE"] == 12_345_678
    state = state_after(long, short(True), frame(TRI))  # a long frame inside the cycle
    assert state["ADIR2"] == 25 and state["IINST2"] == 11
    state = state_after(long, short(True), frame(TRI), frame(TRI))  # the cycle is over
    assert "ADIR2" not in state
    state = state_after(long, short(True), short(False, "019"))  # phase 2 back under
    assert "ADIR2" not in state and state["IINST2"] == 19


def test_tempo_colours_from_the_tariff_period_and_tomorrow() -> None:
    tempo = without(HISTORIC_HCHP, "HCHC", "HCHP")
    tempo.update(OPTARIF="BBR(", PTEC="HCJW", DEMAIN="----")
    indexes = ("BBRHCJB", "BBRHPJB", "BBRHCJW", "BBRHPJW", "BBRHCJR", "BBRHPJR")
    tempo.update((label, f"{n:09d}") for n, label in enumerate(indexes, 1))
    state = state_after(frame(tempo))
    assert (state["tempo_today"], state["tempo_tomorrow"]) == ("white", None)
    assert state["tariff_period"] == "off_peak"
    assert state["energy_total"] == 21
    state = state_after(frame(dict(tempo, DEMAIN="ROUG")))
    assert state["tempo_tomorrow"] == "red"


STANDARD = {
    "ADSC": "041876097467",
    "VTIC": "02",
    "NGTF": "     TEMPO      ",
    "EAST": "000012345",
    "EASF01": "000012345",
    "PREF": "09",
    "SINSTS": "00560",
    "STGE": "013A0000",
    "RELAIS": "001",
}


def test_standard_status_register_relays_and_units() -> None:
    state = state_after(frame(STANDARD, "standard"))
    assert state["PREF"] == 9000  # typed in VA
    assert state["energy_total"] == 12345
    status = state["status"]
    assert isinstance(status, dict)
    assert status["tempo_today"] == "blue" and status["tempo_tomorrow"] is None
    assert status["euridis"] == "enabled with security" and not status["producer"]
    assert (state["tempo_today"], state["tempo_tomorrow"]) == ("blue", None)
    assert state["relays"] == [True] + [False] * 7
