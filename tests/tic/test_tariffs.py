"""The meter's derived facts, worked out by hand here: the option, the total energy (strict:
never a partial sum), the period and its hours, the Tempo colours; and the one answer every
consumer (web page, MQTT state, TeleInfoMonitor's BASE) gives for the same frame."""

from __future__ import annotations

import pytest

from teleinforeader.sinks.http.views import reading
from teleinforeader.sinks.mqtt.picture import MeterPicture
from teleinforeader.sinks.mqtt.state import TARIFF_PERIODS, state_of
from teleinforeader.tic import Frame
from teleinforeader.tic.tariffs import (
    HISTORIC_HOURS,
    current_period,
    historic_option,
    tempo_colours,
    total_energy,
)
from teleinforeader.tic.teleinfomonitor import seed_values
from tests.support.every_meter import every_meter
from tests.support.groups import HISTORIC_HCHP, frame, without

TEMPO = {
    "ADCO": "021861348497",
    "OPTARIF": "BBR(",
    "BBRHCJB": "000000001",
    "BBRHPJB": "000000002",
    "BBRHCJW": "000000003",
    "BBRHPJW": "000000004",
    "BBRHCJR": "000000005",
    "BBRHPJR": "000000006",
    "PTEC": "HPJB",
    "DEMAIN": "----",
    "PAPP": "00400",
}


def test_the_total_adds_up_every_index_of_the_option() -> None:
    assert total_energy(frame(HISTORIC_HCHP)) == 3_000_000
    assert total_energy(frame(TEMPO)) == 21
    assert (
        total_energy(frame({"ADCO": "021861348497", "OPTARIF": "BASE", "BASE": "000001234"}))
        == 1234
    )
    assert total_energy(frame({"ADSC": "041876097467", "EAST": "000012345"}, "standard")) == 12345


@pytest.mark.parametrize(
    ("groups", "lost"),
    [(HISTORIC_HCHP, "HCHC"), (HISTORIC_HCHP, "HCHP"), (TEMPO, "BBRHPJR"), (TEMPO, "BBRHCJB")],
)
def test_a_total_missing_one_index_is_none_never_a_partial_sum(
    groups: dict[str, str], lost: str
) -> None:
    """A partial sum drops by the lost index's whole value, and jumps back when it returns."""
    assert total_energy(frame(without(groups, lost))) is None


def test_without_optarif_the_option_is_the_one_whose_indexes_the_frame_carries() -> None:
    lost_optarif = frame(without(HISTORIC_HCHP, "OPTARIF"))
    assert historic_option(lost_optarif) == "HC.."
    assert total_energy(lost_optarif) == 3_000_000
    assert historic_option(frame({"ADCO": "021861348497", "PAPP": "00400"})) is None


def test_after_a_change_of_option_optarif_says_which_indexes_count() -> None:
    """A picture of the meter keeps the indexes it last saw: the old option's BASE among them."""
    picture = frame(dict(HISTORIC_HCHP, BASE="000500000"))
    assert historic_option(picture) == "HC.."
    assert total_energy(picture) == 3_000_000


@pytest.mark.parametrize(
    ("ptec", "index", "name", "hours"),
    [
        ("TH..", "BASE", "all hours", "all hours"),
        ("HC..", "HCHC", "off-peak", "off-peak"),
        ("HP..", "HCHP", "peak", "peak"),
        ("HN..", "EJPHN", "normal hours", "normal hours"),
        ("PM..", "EJPHPM", "mobile peak", "mobile peak"),
        ("HCJB", "BBRHCJB", "blue day off-peak", "off-peak"),
        ("HPJR", "BBRHPJR", "red day peak", "peak"),
    ],
)
def test_the_period_names_its_index_and_its_hours(
    ptec: str, index: str, name: str, hours: str
) -> None:
    period = current_period(frame(dict(HISTORIC_HCHP, PTEC=ptec)))
    assert period is not None
    assert (period.index, period.code, period.name, period.hours) == (index, ptec, name, hours)


def test_a_standard_period_is_the_supplier_index_ntarf_numbers() -> None:
    groups = {"ADSC": "041876097467", "NTARF": "02", "LTARF": " HEURE  CREUSE  "}
    period = current_period(frame(groups, "standard"))
    assert period is not None
    assert (period.index, period.code, period.name) == ("EASF02", "2", "HEURE  CREUSE")


def test_tempo_colours_known_or_none_and_only_on_a_tempo_contract() -> None:
    assert tempo_colours(frame(TEMPO)) == ("blue", None)  # DEMAIN ----: not announced yet
    assert tempo_colours(frame(dict(TEMPO, PTEC="HCJW", DEMAIN="ROUG"))) == ("white", "red")
    assert tempo_colours(frame(without(TEMPO, "OPTARIF"))) == ("blue", None)  # by its indexes
    assert tempo_colours(frame(HISTORIC_HCHP)) is None
    standard = {"ADSC": "041876097467", "NGTF": "     TEMPO      ", "EAST": "000012345"}
    assert tempo_colours(frame(standard, "standard")) == (None, None)  # no STGE: not known
    announced = dict(standard, NGTF="   H PLEINE/CREUSE ", STGE="093A0000")  # blue, white
    assert tempo_colours(frame(announced, "standard")) == ("blue", "white")
    not_tempo = dict(standard, NGTF="   H PLEINE/CREUSE ", STGE="003A0000")
    assert tempo_colours(frame(not_tempo, "standard")) is None


def mqtt_state(frame: Frame) -> dict[str, object]:
    picture = MeterPicture(frame.meter_id or "", frame.mode)
    picture.see(frame)
    return state_of(picture.snapshot())


def test_the_web_page_mqtt_and_teleinfomonitor_give_one_answer_for_every_meter() -> None:
    for source, frames in every_meter().items():
        first = next(each for each in frames if not each.is_short)  # a fresh MQTT picture
        total = total_energy(first)
        assert reading(first)["total_energy"] == total, source
        assert mqtt_state(first).get("energy_total") == total, source
        assert seed_values(first)[1].get("BASE") == total, source


def test_mqtt_says_the_page_s_periods_and_colours_in_home_assistant_s_words() -> None:
    assert set(TARIFF_PERIODS) == set(HISTORIC_HOURS.values())
    for groups in (
        HISTORIC_HCHP,
        dict(HISTORIC_HCHP, PTEC="HC.."),
        TEMPO,
        dict(TEMPO, PTEC="HCJW", DEMAIN="BLEU"),
    ):
        each = frame(groups)
        shown, state = reading(each), mqtt_state(each)
        period = current_period(each)
        assert period is not None and shown["period"]["name"] == period.name
        assert state["tariff_period"] == TARIFF_PERIODS[period.hours or ""]
        if shown["tempo"] is not None:
            words = (state["tempo_today"] or "unknown", state["tempo_tomorrow"] or "unknown")
            assert (shown["tempo"]["today"], shown["tempo"]["tomorrow"]) == words
