"""Frames of every tariff and both modes become rows holding every label, typed, on both
backends; TeleInfoMonitor's own query still reads the historic table by position."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from teleinforeader.sinks.database.schema import HISTORIC_TABLE, STANDARD_TABLE, TABLES
from teleinforeader.tic import Decoder, encode_frame
from tests.storage.helpers import METERS, START, Storage, expected_row, make_frames, store

TELEINFOMONITOR_QUERY = (
    "SELECT * FROM teleinfoframes WHERE timestamp BETWEEN '{day} 00:00:00' AND '{day} 23:59:59'"
)


@pytest.mark.parametrize("meter", sorted(METERS))
def test_every_label_of_every_tariff_round_trips(storage: Storage, meter: str) -> None:
    frames = make_frames(meter, 4)
    store(storage, frames)

    table = TABLES[frames[0].mode]
    assert storage.rows(table) == [expected_row(frame, "pi-test") for frame in frames]
    other = STANDARD_TABLE if table is HISTORIC_TABLE else HISTORIC_TABLE
    assert storage.rows(other) == []


def test_columns_a_tariff_does_not_send_are_null(storage: Storage) -> None:
    store(storage, make_frames("historic-hchp", 1))
    (row,) = storage.rows(HISTORIC_TABLE)
    assert row["total_base_index_in_wh"] is None  # the original dropped such frames
    assert (row["hchc"], row["hchp"]) == (1234567, 7654321)
    assert row["bbrhcjb"] is None


def test_teleinfomonitor_query_decodes_the_first_eleven_columns(storage: Storage) -> None:
    frames = make_frames("historic-base", 3)
    late = make_frames("historic-base", 1, START + timedelta(days=1))
    store(storage, frames + late)

    rows = storage.query(TELEINFOMONITOR_QUERY.format(day=START.date().isoformat()))
    assert len(rows) == 3
    for row, frame in zip(rows, frames):
        # TeleInfoMonitor: strings as they are, int() on the numeric columns.
        assert row[0].startswith(START.date().isoformat())
        decoded = (row[1], row[2], int(row[3]), int(row[4]), row[5], int(row[6]), int(row[7]),
                   int(row[8]), row[9], row[10])  # fmt: skip
        assert decoded == (frame["ADCO"], "BASE", 45, 12345678, "TH..", 5, 90, 1150, "A", "000000")


def test_values_with_quotes_are_stored_verbatim(storage: Storage) -> None:
    groups = dict(METERS["historic-tempo"][1], OPTARIF="BBR'")
    (quoted,) = Decoder("historic").feed(encode_frame(groups, "historic"), START)
    standard_groups = dict(METERS["standard-mono"][1], MSG1="'); DROP TABLE teleinfoframes;--")
    (message,) = Decoder("standard").feed(
        encode_frame(standard_groups, "standard", METERS["standard-mono"][2]), START
    )
    store(storage, [quoted, message])

    (historic,) = storage.rows(HISTORIC_TABLE)
    (standard,) = storage.rows(STANDARD_TABLE)
    assert historic["subscription_type"] == "BBR'"
    assert standard["msg1"] == "'); DROP TABLE teleinfoframes;--"


def test_unknown_labels_are_kept_in_extra(storage: Storage) -> None:
    store(storage, make_frames("standard-tri-producer", 1))
    (row,) = storage.rows(STANDARD_TABLE)
    assert json.loads(row["extra"]) == {"NEWLABEL": "it's new"}


def test_frames_within_one_second_do_not_collide(storage: Storage) -> None:
    frames = make_frames("historic-base", 6)  # 400 ms apart
    assert frames[0].received_at.second == frames[1].received_at.second
    store(storage, frames)
    assert len(storage.rows(HISTORIC_TABLE)) == 6


def test_readers_share_one_database(storage: Storage) -> None:
    frames = make_frames("historic-base", 3)
    store(storage, frames, reader="garage")
    store(storage, frames, reader="cellar")
    rows = storage.rows(HISTORIC_TABLE)
    assert sorted(row["reader"] for row in rows) == ["cellar"] * 3 + ["garage"] * 3


def test_the_same_frame_twice_is_one_row(storage: Storage) -> None:
    frames = make_frames("standard-mono", 3)
    store(storage, frames)
    store(storage, frames)  # a re-send after a commit whose outcome was unknown
    assert len(storage.rows(STANDARD_TABLE)) == 3


def test_store_interval_picks_one_frame_per_interval_per_meter(storage: Storage) -> None:
    base = make_frames("historic-base", 40)  # 16 s of frames, 400 ms apart
    hchp = make_frames("historic-hchp", 40)
    sink = store(storage, base + hchp, store_interval=5)

    rows = storage.rows(HISTORIC_TABLE)
    offsets = sorted({(row["timestamp"], row["subscription_type"]) for row in rows})
    # The first frame at least 5 s after the last one stored: frames come every 400 ms.
    expected = {str(START + timedelta(seconds=s)) for s in (0, 5.2, 10.4, 15.6)}
    assert {t for t, option in offsets if option == "BASE"} == expected
    assert {t for t, option in offsets if option == "HC.."} == expected
    assert sink.status().counters["skipped"] == 80 - 8
