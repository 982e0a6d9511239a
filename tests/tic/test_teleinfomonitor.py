"""The mapping table: TeleInfoMonitor's ten labels for every kind of meter, worked out by hand
here from the frames' own groups (never from the module's code)."""

from __future__ import annotations

import pytest

from teleinforeader.tic import Decoder, decode, encode_frame
from teleinforeader.tic.teleinfomonitor import (
    MAPPINGS,
    SEED_LABELS,
    meter_kind,
    seed_frame,
    seed_values,
)
from tests.storage.helpers import make_frames
from tests.support.every_meter import every_meter

EXPECTED = {
    "historic-base": (
        "historic BASE",
        {
            "ADCO": "031762120120",
            "OPTARIF": "BASE",
            "ISOUSC": 45,
            "BASE": 12345678,
            "PTEC": "TH..",
            "IINST": 5,
            "IMAX": 90,
            "PAPP": 1150,
            "HHPHC": "A",
            "MOTDETAT": "000000",
        },
    ),
    "historic-hchp": (
        "historic HC/HP",
        {"OPTARIF": "HC..", "BASE": 1234567 + 7654321, "PTEC": "HP..", "HHPHC": "C"},
    ),
    "historic-ejp": (
        "historic EJP",
        {"OPTARIF": "EJP.", "BASE": 111222 + 333444, "PTEC": "PM..", "HHPHC": "Y"},
    ),
    "historic-tempo": (
        "historic Tempo",
        {"OPTARIF": "BBR(", "BASE": 101 + 102 + 103 + 104 + 105 + 106, "PTEC": "HPJB"},
    ),
    "historic-three-phase": (
        "historic three-phase",
        {"ISOUSC": 20, "BASE": 500600, "IINST": 3, "IMAX": 60, "PAPP": 900, "HHPHC": "A"},
    ),
    "standard-mono": (  # a Tempo contract: NGTF "TEMPO", LTARF "HP  BLEU", PREF 12 kVA
        "standard single-phase",
        {
            "ADCO": "041876097994",
            "OPTARIF": "BBR(",
            "ISOUSC": 60,
            "BASE": 8471590,
            "PTEC": "HPJB",
            "IINST": 2,
            "IMAX": 90,
            "PAPP": 519,
            "HHPHC": "A",
            "MOTDETAT": "000000",
        },
    ),
    "standard-tri-producer": (  # no NGTF, LTARF nor PREF: a non-historic contract
        "standard three-phase",
        {
            "ADCO": "041876097995",
            "OPTARIF": "BASE",
            "BASE": 123456,
            "PTEC": "TH..",
            "IINST": 3,
            "IMAX": 60,
            "PAPP": 1200,
            "HHPHC": "A",
            "MOTDETAT": "000000",
        },
    ),
}


@pytest.mark.parametrize("meter", EXPECTED)
def test_each_kind_of_meter_maps_as_the_table_says(meter: str) -> None:
    kind, expected = EXPECTED[meter]
    (frame,) = make_frames(meter, 1)
    assert meter_kind(frame) == kind
    found_kind, values = seed_values(frame)
    assert found_kind == kind
    assert {label: values.get(label) for label in expected} == expected


def test_a_standard_frame_without_isousc_pref_leaves_isousc_out() -> None:
    (frame,) = make_frames("standard-tri-producer", 1)
    assert "ISOUSC" not in seed_values(frame)[1]  # no PREF: nothing to compute it from


def standard_frame(**groups: str) -> dict[str, str]:
    base = {
        "ADSC": "041876097994",
        "EAST": "000010000",
        "IRMS1": "004",
        "URMS1": "231",
        "PREF": "06",
        "SINSTS": "00900",
    }
    return {**base, **groups}


@pytest.mark.parametrize(
    ("ngtf", "ltarf", "stge", "option", "period"),
    [
        ("      BASE      ", "      BASE      ", "003A0001", "BASE", "TH.."),
        ("H PLEINE/CREUSE ", " HEURE  CREUSE  ", "003A0001", "HC..", "HC.."),
        ("H PLEINE/CREUSE ", " HEURE  PLEINE  ", "003A0401", "HC..", "HP.."),
        (" HC et Week-End ", " HEURE  CREUSE  ", "003A8000", "HC..", "HC.."),
        ("H PLEINE/CREUSE ", "INDEX INACTIF 2 ", "000A4411", "HC..", ""),  # Enedis' lab meter
        ("     TEMPO      ", "   HC  BLANC    ", "463A0800", "BBR(", "HCJW"),
        ("     TEMPO      ", "    HP  BLEU    ", "013A0501", "BBR(", "HPJB"),
        ("     TEMPO      ", "   HEURE CREUSE ", "033A0001", "BBR(", "HCJR"),  # STGE: red
        ("   PRODUCTEUR   ", " INDEX NON CONSO", "003A0301", "BASE", "TH.."),
        ("      EJP       ", " POINTE MOBILE  ", "003A0001", "EJP.", "PM.."),
        ("      EJP       ", "HEURES NORMALES ", "003A0001", "EJP.", "HN.."),
    ],
)
def test_standard_option_and_period_come_from_ngtf_and_ltarf(
    ngtf: str, ltarf: str, stge: str, option: str, period: str
) -> None:
    groups = standard_frame(NGTF=ngtf, LTARF=ltarf, STGE=stge)
    (frame,) = decode(encode_frame(groups, "standard"))
    values = seed_values(frame)[1]
    assert (values["OPTARIF"], values["PTEC"]) == (option, period)


def test_noise_never_makes_a_value_up() -> None:
    """A refused index or NGTF leaves its label out: TeleInfoMonitor skips such a frame."""
    hchp = make_frames("historic-hchp", 1)[0]
    wire = encode_frame(dict(hchp), "historic").replace(b"HCHC 001234567", b"HCHC 001234568")
    (frame,) = Decoder().feed(wire)
    assert "HCHC" not in frame  # checksum: refused
    assert "BASE" not in seed_values(frame)[1]  # not HCHP alone: that would be a drop
    groups = standard_frame(NGTF="     TEMPO      ", LTARF="    HP  BLEU    ")
    wire = encode_frame(groups, "standard").replace(b"TEMPO", b"TEMPA")
    (frame,) = Decoder().feed(wire)
    values = seed_values(frame)[1]
    assert "OPTARIF" not in values and "PTEC" not in values
    assert values["BASE"] == 10000 and values["ISOUSC"] == 30  # the rest still shows


def test_a_three_phase_short_frame_gives_only_what_it_carries() -> None:
    groups = {"ADIR1": "045", "ADCO": "031762120130", "IINST1": "045", "IINST2": "010",
              "IINST3": "002"}  # fmt: skip
    (frame,) = decode(encode_frame(groups, "historic"))
    assert seed_values(frame) == (
        "historic three-phase",
        {"ADCO": "031762120130", "IINST": 45, "HHPHC": ""},
    )


def test_the_json_frame_pads_numbers_as_a_historic_meter_does() -> None:
    (frame,) = make_frames("standard-mono", 1)
    assert seed_frame(seed_values(frame)[1]) == {
        "ADCO": "041876097994",
        "OPTARIF": "BBR(",
        "ISOUSC": "60",
        "BASE": "008471590",
        "PTEC": "HPJB",
        "IINST": "002",
        "IMAX": "090",
        "PAPP": "00519",
        "HHPHC": "A",
        "MOTDETAT": "000000",
    }


def test_every_kind_maps_the_ten_labels_and_every_source_covers_every_kind() -> None:
    for kind, mapping in MAPPINGS.items():
        assert set(mapping) == set(SEED_LABELS), kind
    kinds = {meter_kind(frame) for frames in every_meter().values() for frame in frames}
    assert kinds == set(MAPPINGS)
