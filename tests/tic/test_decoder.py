"""Framing and validation of the decoder, one rule per test, on hand-built byte strings."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from teleinforeader.tic import Decoder, decode, encode_frame, encode_group
from teleinforeader.tic.decoder import MAX_FRAME
from teleinforeader.tic.groups import MAX_GROUP, checksum

HISTORIC_BASE = [
    ("ADCO", "021861348497"),
    ("OPTARIF", "BASE"),
    ("ISOUSC", "30"),
    ("BASE", "005104639"),
    ("PTEC", "TH.."),
    ("IINST", "002"),
    ("IMAX", "090"),
    ("PAPP", "00570"),
    ("HHPHC", "A"),
    ("MOTDETAT", "000000"),
]
STANDARD_MONO = [
    ("ADSC", "041776199277"),
    ("VTIC", "02"),
    ("DATE", "H200214230804", ""),
    ("EAST", "021849106"),
    ("IRMS1", "003"),
    ("URMS1", "232"),
    ("PREF", "12"),
    ("PCOUP", "12"),
    ("SINSTS", "02700"),
    ("SMAXSN", "H200214175135", "10802"),
    ("STGE", "013A0000"),
    ("PRM", "07361794479930"),
]
HISTORIC_FRAME = encode_frame(HISTORIC_BASE, "historic")
STANDARD_FRAME = encode_frame(STANDARD_MONO, "standard")


def test_decode_one_historic_frame() -> None:
    (frame,) = decode(HISTORIC_FRAME)
    assert dict(frame) == dict(HISTORIC_BASE)
    assert frame.mode == "historic"
    assert list(frame) == [label for label, _ in HISTORIC_BASE]  # arrival order


def test_decode_one_standard_frame() -> None:
    (frame,) = decode(STANDARD_FRAME)
    assert frame.mode == "standard"
    assert frame["DATE"] == ""  # DATE has an empty data field
    assert frame.raw_horodates == {"DATE": "H200214230804", "SMAXSN": "H200214175135"}
    assert frame["SMAXSN"] == "10802"


def test_received_at_is_stamped_on_the_frames() -> None:
    stamp = datetime(2026, 1, 1, tzinfo=timezone.utc)
    (frame,) = Decoder().feed(HISTORIC_FRAME, received_at=stamp)
    assert frame.received_at == stamp


def test_frame_is_read_only() -> None:
    (frame,) = decode(HISTORIC_FRAME)
    with pytest.raises(TypeError):
        frame["PAPP"] = "99999"  # type: ignore[index]


@pytest.mark.parametrize("chunk", [1, 2, 7, 64, 4096])
def test_chunks_of_any_size_give_the_same_frames(chunk: int) -> None:
    stream = b"junk" + HISTORIC_FRAME + STANDARD_FRAME + HISTORIC_FRAME[:50]
    decoder = Decoder()
    frames = [f for i in range(0, len(stream), chunk) for f in decoder.feed(stream[i : i + chunk])]
    assert frames == decode(stream)
    assert [f.mode for f in frames] == ["historic", "standard"]


# -- framing ----------------------------------------------------------------------------------


def test_eot_interrupts_the_frame_and_is_counted() -> None:
    decoder = Decoder()
    cut = HISTORIC_FRAME[: HISTORIC_FRAME.index(b"\nPAPP")] + b"\x04"
    assert decoder.feed(cut + HISTORIC_FRAME) == decode(HISTORIC_FRAME)
    assert decoder.stats.interrupted == 1
    assert decoder.stats.frames == 1


def test_partial_frame_at_stream_start_is_dropped() -> None:
    decoder = Decoder()
    tail = HISTORIC_FRAME[40:]
    frames = decoder.feed(tail + HISTORIC_FRAME)
    assert len(frames) == 1
    assert frames[0]["ADCO"] == "021861348497"
    assert decoder.stats.garbage_bytes == len(tail)


def test_bytes_are_masked_to_seven_bits() -> None:
    """A port opened 8N1 delivers 7E1's parity bit as bit 7: set it on every odd-parity byte."""

    def with_parity(byte: int) -> int:
        return byte | 0x80 if bin(byte).count("1") % 2 else byte

    on_the_wire = bytes(with_parity(b) for b in HISTORIC_FRAME)
    assert on_the_wire != HISTORIC_FRAME
    assert decode(on_the_wire) == decode(HISTORIC_FRAME)


def test_oversize_frame_is_dropped_counted_and_not_buffered() -> None:
    decoder = Decoder()
    filler = encode_group("ZZZZ", "0" * 100, "historic")
    decoder.feed(b"\x02" + filler * (MAX_FRAME // len(filler) + 2))
    assert decoder.stats.oversize == 1
    assert decoder._pending is None  # nothing kept once the bound is passed
    # the rest of the runaway frame is garbage, then a good frame is decoded again
    assert decoder.feed(filler + b"\x03" + HISTORIC_FRAME) == decode(HISTORIC_FRAME)
    assert decoder.stats.oversize == 1


def test_oversize_frame_in_one_buffer_is_dropped() -> None:
    decoder = Decoder()
    filler = encode_group("ZZZZ", "0" * 100, "historic")
    big = b"\x02" + filler * (MAX_FRAME // len(filler) + 2) + b"\x03"
    assert decoder.feed(big + HISTORIC_FRAME) == decode(HISTORIC_FRAME)
    assert decoder.stats.oversize == 1


def test_oversize_group_is_refused_and_the_frame_kept() -> None:
    long_group = encode_group("MSG1", "X" * MAX_GROUP, "standard")
    body = STANDARD_FRAME[:-1] + long_group + b"\x03"
    decoder = Decoder()
    (frame,) = decoder.feed(body)
    assert len(frame) == len(STANDARD_MONO)
    assert [r.reason for r in frame.rejected] == ["too_long"]
    assert decoder.stats.rejected["too_long"] == 1


def test_garbage_then_resync_on_next_stx() -> None:
    decoder = Decoder()
    # every byte value except those that mask to STX/ETX/EOT
    garbage = bytes(b for b in range(256) if b & 0x7F not in (2, 3, 4)) * 3
    frames = decoder.feed(garbage + HISTORIC_FRAME)
    assert frames == decode(HISTORIC_FRAME)
    assert decoder.stats.garbage_bytes == len(garbage)


def test_stx_after_a_complete_group_restarts_the_frame() -> None:
    """The meter restarted its cycle and the EOT was lost: the partial frame is truncated."""
    decoder = Decoder()
    cut = HISTORIC_FRAME[: HISTORIC_FRAME.index(b"\nPAPP")]  # ends with CR
    assert decoder.feed(cut + HISTORIC_FRAME) == decode(HISTORIC_FRAME)
    assert decoder.stats.truncated == 1


OTHER_METER = dict(HISTORIC_BASE, ADCO="031762548823", ISOUSC="45", BASE="012345678")
OTHER_FRAME = encode_frame(list(OTHER_METER.items()), "historic")


@pytest.mark.parametrize("cut", [b"\nPAPP 00", b"\nPAPP", b"\n", b"\nISOUSC 30 "])
def test_stx_always_starts_a_frame_and_the_unfinished_one_is_dropped(cut: bytes) -> None:
    """A frame cut anywhere without ETX or EOT, even inside a group, then a new frame: the new
    frame comes out whole with its own values, never glued to the old one's."""
    unfinished = HISTORIC_FRAME[: HISTORIC_FRAME.index(cut) + len(cut)]
    for chunks in ([unfinished + OTHER_FRAME], [unfinished, OTHER_FRAME]):
        decoder = Decoder()
        frames = [frame for chunk in chunks for frame in decoder.feed(chunk)]
        assert [dict(frame) for frame in frames] == [OTHER_METER]
        assert frames[0].rejected == ()
        assert decoder.stats.truncated == 1


def test_stx_inside_a_group_cuts_the_frame_there() -> None:
    """Line noise that makes an STX: the frame before it is dropped and counted; what follows
    it, up to the first LF, is refused; the groups after it form a frame of their own."""
    noisy = HISTORIC_FRAME.replace(b"PAPP 00570", b"PAPP 00\x0270")
    decoder = Decoder()
    (frame,) = decoder.feed(noisy)
    assert dict(frame) == dict(HISTORIC_BASE[-2:])  # HHPHC and MOTDETAT
    assert [r.reason for r in frame.rejected] == ["malformed"]
    assert decoder.stats.truncated == 1


def test_lost_cr_costs_one_group_and_lost_lf_is_recovered() -> None:
    papp = encode_group("PAPP", "00570", "historic")
    no_cr = HISTORIC_FRAME.replace(papp, papp[:-1] + b"\x0c")
    (frame,) = decode(no_cr)
    assert "PAPP" not in frame and "HHPHC" in frame
    assert [r.reason for r in frame.rejected] == ["malformed"]

    lf_to_vt = HISTORIC_FRAME.replace(b"\r\nPAPP", b"\r\x0bPAPP")
    (frame,) = decode(lf_to_vt)
    assert dict(frame) == dict(HISTORIC_BASE)


def test_mode_auto_follows_a_meter_switching_to_standard() -> None:
    decoder = Decoder()
    frames = decoder.feed(HISTORIC_FRAME * 2 + STANDARD_FRAME * 2)
    assert [f.mode for f in frames] == ["historic", "historic", "standard", "standard"]
    assert decoder.mode == "standard"
    assert decoder.stats.mode_switches == 1


def test_fixed_mode_refuses_and_counts_frames_of_the_other_mode() -> None:
    decoder = Decoder(mode="historic")
    frames = decoder.feed(STANDARD_FRAME + HISTORIC_FRAME)
    assert [f.mode for f in frames] == ["historic"]
    assert decoder.stats.mode_mismatch == 1


def test_unknown_mode_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="mode must be one of"):
        Decoder(mode="fast")


def test_reset_forgets_a_partial_frame() -> None:
    decoder = Decoder()
    decoder.feed(HISTORIC_FRAME[:60])
    decoder.reset()
    assert decoder.feed(HISTORIC_FRAME[60:]) == []


def test_frame_with_no_valid_group_is_counted_empty() -> None:
    decoder = Decoder()
    assert decoder.feed(b"\x02\nADCO 021861348497 X\r\x03") == []
    assert decoder.stats.empty == 1
    assert decoder.stats.rejected["checksum"] == 1


# -- checksums and group validation -----------------------------------------------------------


def test_checksum_worked_examples_of_the_reference() -> None:
    assert chr(checksum(b"ADCO 050022120078")) == "2"  # historic: last SP excluded
    assert chr(checksum(b"ADCO 050022120078 ")) == "R"  # the classic bug
    assert chr(checksum(b"VTIC\t02\t")) == "J"  # standard: last HT included
    assert chr(checksum(b"DATE\tE220615092559\t\t")) == "L"
    assert chr(checksum(b"SMAXSN\tH230201090704\t04820\t")) == "7"
    assert decode(b"\x02\nADCO 050022120078 2\r\x03")[0]["ADCO"] == "050022120078"


def test_historic_group_checked_with_the_standard_rule_is_refused() -> None:
    """Each mode its own rule: 'separator included' is refused in historic mode."""
    wrong = b"\x02\nADCO 050022120078 R\r\x03"
    decoder = Decoder()
    assert decoder.feed(wrong) == []
    assert decoder.stats.rejected["checksum"] == 1


def test_checksum_that_is_a_space_is_kept() -> None:
    group = encode_group("PTEC", "HP..", "historic")
    assert group == b"\nPTEC HP..  \r"
    frame = decode(b"\x02" + encode_group("ADCO", "021861348497", "historic") + group + b"\x03")
    assert frame[0]["PTEC"] == "HP.."


def test_date_with_empty_data() -> None:
    (frame,) = decode(b"\x02\nDATE\tE220615092559\t\tL\r\x03")
    assert frame["DATE"] == ""
    assert frame.raw_horodates["DATE"] == "E220615092559"


def test_bit6_flip_passes_the_checksum_but_not_the_format() -> None:
    """'1' (0x31) read as 'q' (0x71) changes the sum by 64: the 6-bit checksum cannot see it."""
    good = encode_group("PAPP", "01170", "historic")
    flipped = good.replace(b"01170", b"0q170")
    assert flipped[-2] == good[-2]  # same checksum character
    decoder = Decoder()
    (frame,) = decoder.feed(
        b"\x02" + encode_group("ADCO", "021861348497", "historic") + flipped + b"\x03"
    )
    assert "PAPP" not in frame
    assert [(r.reason, r.label) for r in frame.rejected] == [("format", "PAPP")]


@pytest.mark.parametrize(
    ("label", "value", "horodate"),
    [
        ("ADCO", "02186134849", None),  # 11 digits
        ("BASE", "00510463X", None),
        ("OPTARIF", "BAS ", None),
        ("MOTDETAT", "00000G", None),
    ],
)
def test_historic_values_outside_their_format_are_refused(label, value, horodate) -> None:
    decoder = Decoder()
    frames = decoder.feed(encode_frame([("IINST", "002"), (label, value)], "historic"))
    assert label not in frames[0]
    assert decoder.stats.rejected["format"] == 1


@pytest.mark.parametrize(
    ("group", "why"),
    [
        (("STGE", "013a0000"), "hex digits are upper case"),
        (("STGE", "013A000"), "8 hex digits"),
        (("SMAXSN", "H230231090704", "04820"), "31 February"),
        (("SMAXSN", "X230201090704", "04820"), "season letter"),
        (("SMAXSN", "04820"), "SMAXSN carries a horodate"),
        (("EAST", "H230201090704", "021849106"), "EAST carries none"),
        (("DATE", "H230201090704", "1"), "DATE data is empty"),
        (("PJOURF+1", "00004001 06004002"), "11 blocks"),
    ],
)
def test_standard_values_outside_their_format_are_refused(group, why) -> None:
    decoder = Decoder()
    frames = decoder.feed(encode_frame([("VTIC", "02"), group], "standard"))
    assert group[0] not in frames[0], why
    assert decoder.stats.rejected["format"] == 1


def test_unknown_label_is_kept_and_flagged() -> None:
    (frame,) = decode(encode_frame([("ADCO", "021861348497"), ("NEWLBL", "ABC 12")], "historic"))
    assert frame["NEWLBL"] == "ABC 12"
    assert frame.unknown == frozenset({"NEWLBL"})
    assert frame.typed("NEWLBL") == "ABC 12"


def test_unknown_label_with_control_bytes_is_refused() -> None:
    decoder = Decoder()
    frames = decoder.feed(encode_frame([("ADCO", "021861348497"), ("NEWLBL", "A\x01")], "historic"))
    assert "NEWLBL" not in frames[0]
    assert decoder.stats.rejected["charset"] == 1


def test_duplicate_label_keeps_the_first_and_refuses_the_second() -> None:
    decoder = Decoder()
    (frame,) = decoder.feed(encode_frame([("PAPP", "00570"), ("PAPP", "00990")], "historic"))
    assert frame["PAPP"] == "00570"
    assert [(r.reason, r.label) for r in frame.rejected] == [("duplicate", "PAPP")]


def test_ht_inside_a_historic_group_is_refused() -> None:
    decoder = Decoder(mode="historic")
    group = b"\nPAPP\t00570 " + bytes((checksum(b"PAPP\t00570"),)) + b"\r"
    (frame,) = decoder.feed(b"\x02" + encode_group("IINST", "002", "historic") + group + b"\x03")
    assert [(r.reason, r.label) for r in frame.rejected] == [("charset", None)]


# -- the frame's typed views ------------------------------------------------------------------


def test_stge_worked_example() -> None:
    (frame,) = decode(STANDARD_FRAME)
    stge = frame.stge
    assert stge is not None
    assert stge.value == 0x013A0000
    assert stge.standard_mode
    assert stge.euridis == "enabled with security"
    assert stge.cpl_status == "New/Lock"
    assert stge.tempo_today == "blue"
    assert stge.tempo_tomorrow == "none"
    assert not stge.producer and not stge.dry_contact_open
    assert stge.breaking_device == "closed"
    assert stge.supplier_index == 1 and stge.distributor_index == 1
    assert not stge.cpl_synchronised and not stge.clock_degraded


@pytest.mark.parametrize(
    ("raw", "offset", "degraded"),
    [
        ("H081225223518", timedelta(hours=1), False),
        ("E081225223518", timedelta(hours=2), False),
        ("h081225223518", timedelta(hours=1), True),
        ("e081225223518", timedelta(hours=2), True),
    ],
)
def test_horodates_are_timezone_aware(raw: str, offset: timedelta, degraded: bool) -> None:
    (frame,) = decode(encode_frame([("DATE", raw, "")], "standard"))
    horodate = frame.horodates["DATE"]
    assert horodate.time == datetime(2008, 12, 25, 22, 35, 18, tzinfo=timezone(offset))
    assert horodate.time.utcoffset() == offset
    assert horodate.degraded is degraded
    assert horodate.raw == raw


def test_horodate_with_a_space_season_has_no_offset() -> None:
    (frame,) = decode(encode_frame([("DPM1", " 200214060000", "00")], "standard"))
    horodate = frame.horodates["DPM1"]
    assert horodate.time == datetime(2020, 2, 14, 6, 0, 0)
    assert horodate.time.tzinfo is None
    assert not horodate.degraded


def test_typed_accessors() -> None:
    (frame,) = decode(STANDARD_FRAME)
    assert frame.int("EAST") == 21849106
    assert frame.typed("SINSTS") == 2700
    assert frame.typed("PREF") == 12000  # kVA -> VA
    assert frame.int("PCOUP") == 12000
    assert frame.spec("PREF").typed_unit == "VA"
    assert frame.typed("ADSC") == "041776199277"  # identifiers stay strings
    assert frame.typed("PRM") == "07361794479930"
    assert frame.int("PRM") is None
    assert frame.typed("VTIC") == "02"
    assert frame.typed("MISSING") is None
    assert frame.typed_values()["IRMS1"] == 3
    assert frame.meter_id == "041776199277"


def test_historic_meter_id_and_typed_values() -> None:
    (frame,) = decode(HISTORIC_FRAME)
    assert frame.meter_id == "021861348497"
    assert frame.typed("ADCO") == "021861348497"
    assert frame.int("BASE") == 5104639
    assert frame.int("PTEC") is None
    assert not frame.is_short
    assert frame.stge is None
    assert frame.horodates == {}


def test_adir_short_frame_is_short() -> None:
    short = encode_frame(
        [
            ("ADIR1", "034"),
            ("ADCO", "021330274552"),
            ("IINST1", "034"),
            ("IINST2", "002"),
            ("IINST3", "002"),
        ],
        "historic",
    )
    (frame,) = decode(short)
    assert frame.is_short
    assert frame.int("ADIR1") == 34
    assert frame.meter_id == "021330274552"
