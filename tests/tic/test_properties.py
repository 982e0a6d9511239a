"""Property tests: encode -> decode round trips, and fuzzing the decoder with damaged streams.

The oracle here is written independently of the decoder (its own checksum, its own formats,
taken from the protocol reference): a decoded group must appear byte for byte in the input,
with a good checksum and a value its label allows.

The default budget keeps the suite fast; `HYPOTHESIS_PROFILE=fuzz` runs a long campaign.
"""

from __future__ import annotations

import itertools
import os
import re
from collections import Counter
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from teleinforeader.guard import PlausibilityGuard
from teleinforeader.tic import LABELS, Decoder, Frame, decode, encode_frame
from tests.fuzz.campaign import assert_framed

_FUZZ = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz"
BUDGET = settings(
    max_examples=20_000 if _FUZZ else 100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# -- the oracle -------------------------------------------------------------------------------


def oracle_checksum(region: bytes) -> int:
    total = 0
    for byte in region:
        total += byte
    return 0x20 + total % 64


def oracle_wire_group(mode: str, label: str, value: str, horodate: str | None) -> bytes:
    if mode == "historic":
        region = (label + " " + value).encode()
        return b"\n" + region + b" " + bytes([oracle_checksum(region)]) + b"\r"
    middle = label + "\t" + ("" if horodate is None else horodate + "\t") + value + "\t"
    return b"\n" + middle.encode() + bytes([oracle_checksum(middle.encode())]) + b"\r"


def _digits(n: int) -> str:
    return f"[0-9]{{{n}}}"


_HISTORIC_FORMATS = {
    "ADCO": _digits(12),
    "OPTARIF": r"BASE|HC\.\.|EJP\.|BBR[ -~]",
    "ISOUSC": _digits(2),
    "PEJP": _digits(2),
    "PTEC": r"TH\.\.|HC\.\.|HP\.\.|HN\.\.|PM\.\.|HCJB|HPJB|HCJW|HPJW|HCJR|HPJR",
    "DEMAIN": r"----|BLEU|BLAN|ROUG",
    "PMAX": _digits(5),
    "PAPP": _digits(5),
    "HHPHC": r"[A-Z0-9]",
    "MOTDETAT": r"[0-9A-F]{6}",
    "PPOT": r"[0-9A-F]{2}",
    "GAZ": _digits(7),
    "AUTRE": _digits(7),
    **dict.fromkeys(
        ["BASE", "HCHC", "HCHP", "EJPHN", "EJPHPM"] + [f"BBRH{p}J{c}" for p in "CP" for c in "BWR"],
        _digits(9),
    ),
    **dict.fromkeys(
        ["IINST", "ADPS", "IMAX"] + [f"{s}{n}" for s in ("IINST", "IMAX", "ADIR") for n in "123"],
        _digits(3),
    ),
}
_PROFILE = r"(?:[0-9]{4}[0-9A-F]{4}|NONUTILE)"
_STANDARD_FORMATS = {
    "ADSC": _digits(12),
    "VTIC": _digits(2),
    "DATE": "",
    "NGTF": r"[ -~]{0,16}",
    "LTARF": r"[ -~]{0,16}",
    "MSG1": r"[ -~]{0,32}",
    "MSG2": r"[ -~]{0,16}",
    "PREF": _digits(2),
    "PCOUP": _digits(2),
    "STGE": r"[0-9A-F]{8}",
    "PRM": _digits(14),
    "RELAIS": _digits(3),
    "NTARF": _digits(2),
    "NJOURF": _digits(2),
    "NJOURF+1": _digits(2),
    "PJOURF+1": rf"(?:{_PROFILE} ){{10}}{_PROFILE}",
    "PPOINTE": rf"(?:{_PROFILE} ){{10}}{_PROFILE}",
    **dict.fromkeys(
        ["EAST", "EAIT"]
        + [f"EASF{n:02d}" for n in range(1, 11)]
        + [f"EASD{n:02d}" for n in range(1, 5)]
        + [f"ERQ{n}" for n in range(1, 5)],
        _digits(9),
    ),
    **dict.fromkeys(
        [f"{s}{n}" for s in ("IRMS", "URMS", "UMOY") for n in "123"],
        _digits(3),
    ),
    **dict.fromkeys(
        ["SINSTS", "SINSTI", "SMAXSN", "SMAXSN-1", "SMAXIN", "SMAXIN-1", "CCASN", "CCASN-1"]
        + ["CCAIN", "CCAIN-1", "SINST1", "SMAXN", "SMAXN-1"]
        + [f"SINSTS{n}" for n in "123"]
        + [f"SMAXSN{n}" for n in "123"]
        + [f"SMAXSN{n}-1" for n in "123"],
        _digits(5),
    ),
    **dict.fromkeys([f"{s}PM{n}" for s in "DF" for n in "123"], r"[ -~]{2}"),
}
ORACLE_FORMATS = {"historic": _HISTORIC_FORMATS, "standard": _STANDARD_FORMATS}
_HORODATE_ORACLE = re.compile(r"[HEhe ][0-9]{12}")


def _sent(group: bytes, wire: bytes) -> bool:
    """The group is in the input, after an LF or after a control byte (an LF hit by noise,
    which the decoder may recover from: the checksum still covers label to data)."""
    start = wire.find(group[1:])
    while start >= 0:
        if start > 0 and wire[start - 1] < 0x20 and wire[start - 1] != 0x09:
            return True
        start = wire.find(group[1:], start + 1)
    return False


def assert_every_group_is_sound(data: bytes, frames) -> None:
    """Each decoded group is in the (7-bit) input as sent, checksum good, value allowed; each
    frame from one STX..ETX body (the fuzz campaign's framing oracle)."""
    assert_framed(data, frames)
    wire = bytes(byte & 0x7F for byte in data)
    for frame in frames:
        for label, value in frame.items():
            horodate = frame.raw_horodates.get(label)
            assert _sent(oracle_wire_group(frame.mode, label, value, horodate), wire), label
            assert all(" " <= char <= "~" for char in label + value)
            if horodate is not None:
                assert _HORODATE_ORACLE.fullmatch(horodate)
                datetime(2000 + int(horodate[1:3]), int(horodate[3:5]), int(horodate[5:7]))
            allowed = ORACLE_FORMATS[frame.mode].get(label)
            if allowed is None:
                assert label in frame.unknown
            else:
                assert re.fullmatch(allowed, value), (label, value)
                assert label not in frame.unknown


# -- values drawn to satisfy the label formats -------------------------------------------------


def digits(n: int) -> st.SearchStrategy[str]:
    return st.integers(0, 10**n - 1).map(lambda v: str(v).zfill(n))


def hexa(n: int) -> st.SearchStrategy[str]:
    return st.integers(0, 16**n - 1).map(lambda v: f"{v:0{n}X}")


def text(n: int) -> st.SearchStrategy[str]:
    return st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=n)


horodates = st.builds(
    lambda season, moment: season + moment.strftime("%y%m%d%H%M%S"),
    st.sampled_from("HEhe"),
    st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31, 23, 59, 59)),
)

HISTORIC_TARIFFS = {
    "BASE": [("OPTARIF", st.just("BASE")), ("BASE", digits(9)), ("PTEC", st.just("TH.."))],
    "HC": [
        ("OPTARIF", st.just("HC..")),
        ("HCHC", digits(9)),
        ("HCHP", digits(9)),
        ("PTEC", st.sampled_from(["HC..", "HP.."])),
    ],
    "EJP": [
        ("OPTARIF", st.just("EJP.")),
        ("EJPHN", digits(9)),
        ("EJPHPM", digits(9)),
        ("PEJP", st.just("30")),
        ("PTEC", st.sampled_from(["HN..", "PM.."])),
    ],
    "TEMPO": [
        ("OPTARIF", st.characters(min_codepoint=0x20, max_codepoint=0x7E).map("BBR".__add__)),
        *[(f"BBRH{p}J{c}", digits(9)) for c in "BWR" for p in "CP"],
        ("PTEC", st.sampled_from(["HCJB", "HPJB", "HCJW", "HPJW", "HCJR", "HPJR"])),
        ("DEMAIN", st.sampled_from(["----", "BLEU", "BLAN", "ROUG"])),
    ],
}
HISTORIC_PHASES = {
    "single": [("IINST", digits(3)), ("IMAX", digits(3)), ("PAPP", digits(5))],
    "three": [
        *[(f"IINST{n}", digits(3)) for n in "123"],
        *[(f"IMAX{n}", digits(3)) for n in "123"],
        ("PMAX", digits(5)),
        ("PAPP", digits(5)),
    ],
}
HISTORIC_TAIL = [("HHPHC", st.sampled_from("ACDEY")), ("MOTDETAT", hexa(6))]
HISTORIC_THREE_PHASE_TAIL = [("MOTDETAT", hexa(6)), ("PPOT", hexa(2))]

_PROFILE_BLOCK = st.one_of(
    st.just("NONUTILE"),
    st.builds(
        lambda h, m, a: f"{h:02d}{m:02d}{a:04X}",
        st.integers(0, 23),
        st.integers(0, 59),
        st.integers(0, 0xFFFF),
    ),
)
STANDARD_COMMON = [
    ("ADSC", digits(12)),
    ("VTIC", st.just("02")),
    ("DATE", "horodate", st.just("")),
    ("NGTF", text(16)),
    ("LTARF", text(16)),
    ("EAST", digits(9)),
    *[(f"EASF{n:02d}", digits(9)) for n in range(1, 11)],
    *[(f"EASD{n:02d}", digits(9)) for n in range(1, 5)],
    ("IRMS1", digits(3)),
    ("URMS1", digits(3)),
    ("PREF", digits(2)),
    ("PCOUP", digits(2)),
    ("SINSTS", digits(5)),
    ("SMAXSN", "horodate", digits(5)),
    ("SMAXSN-1", "horodate", digits(5)),
    ("CCASN", "horodate", digits(5)),
    ("UMOY1", "horodate", digits(3)),
    ("STGE", hexa(8)),
    ("MSG1", text(32)),
    ("PRM", digits(14)),
    ("RELAIS", digits(3)),
    ("NTARF", digits(2)),
    ("NJOURF", digits(2)),
    ("NJOURF+1", digits(2)),
    ("PJOURF+1", st.lists(_PROFILE_BLOCK, min_size=11, max_size=11).map(" ".join)),
]
STANDARD_THREE_PHASE = [
    *[(f"{s}{n}", digits(3)) for s in ("IRMS", "URMS") for n in "23"],
    *[(f"SINSTS{n}", digits(5)) for n in "123"],
    *[(f"SMAXSN{n}", "horodate", digits(5)) for n in "123"],
    *[(f"SMAXSN{n}-1", "horodate", digits(5)) for n in "123"],
    *[(f"UMOY{n}", "horodate", digits(3)) for n in "23"],
]
STANDARD_PRODUCER = [
    ("EAIT", digits(9)),
    *[(f"ERQ{n}", digits(9)) for n in range(1, 5)],
    ("SINSTI", digits(5)),
    ("SMAXIN", "horodate", digits(5)),
    ("SMAXIN-1", "horodate", digits(5)),
    ("CCAIN", "horodate", digits(5)),
]


@st.composite
def historic_frames(draw) -> list[tuple]:
    tariff = draw(st.sampled_from(sorted(HISTORIC_TARIFFS)))
    phases = draw(st.sampled_from(sorted(HISTORIC_PHASES)))
    layout = [("ADCO", digits(12)), ("ISOUSC", digits(2))]
    layout += HISTORIC_TARIFFS[tariff] + HISTORIC_PHASES[phases]
    layout += HISTORIC_THREE_PHASE_TAIL if phases == "three" else HISTORIC_TAIL
    return [(label, draw(values)) for label, values in layout]


@st.composite
def standard_frames(draw) -> list[tuple]:
    layout = list(STANDARD_COMMON)
    if draw(st.booleans()):
        layout += STANDARD_THREE_PHASE
    if draw(st.booleans()):
        layout += STANDARD_PRODUCER
    groups = []
    for spec in layout:
        if len(spec) == 3:
            groups.append((spec[0], draw(horodates), draw(spec[2])))
        else:
            groups.append((spec[0], draw(spec[1])))
    return groups


def _mode_and_groups(draw) -> tuple[str, list[tuple]]:
    mode = draw(st.sampled_from(["historic", "standard"]))
    return mode, draw(historic_frames() if mode == "historic" else standard_frames())


mode_and_groups = st.composite(_mode_and_groups)()


def _expected(groups: list[tuple]) -> dict[str, str]:
    return {group[0]: group[-1] for group in groups}


# -- round trips ------------------------------------------------------------------------------


@BUDGET
@given(mode_and_groups)
def test_round_trip(mode_groups) -> None:
    mode, groups = mode_groups
    wire = encode_frame(groups, mode)
    (frame,) = decode(wire)
    assert frame.mode == mode
    assert dict(frame) == _expected(groups)
    assert list(frame) == [group[0] for group in groups]
    assert frame.raw_horodates == {g[0]: g[1] for g in groups if len(g) == 3}
    assert frame.rejected == ()
    assert frame.unknown == frozenset()
    for label in frame.horodates:  # every horodate parses
        assert frame.horodates[label].raw == frame.raw_horodates[label]
    assert_every_group_is_sound(wire, [frame])


@BUDGET
@given(mode_and_groups, st.lists(st.integers(1, 64), min_size=1, max_size=20))
def test_round_trip_in_chunks(mode_groups, cuts) -> None:
    mode, groups = mode_groups
    wire = encode_frame(groups, mode) * 2
    decoder = Decoder(mode=mode)
    frames, position = [], 0
    for size in cuts * (len(wire) // sum(cuts) + 1):
        frames += decoder.feed(wire[position : position + size])
        position += size
    assert [dict(frame) for frame in frames] == [_expected(groups)] * 2


# -- fuzzing ----------------------------------------------------------------------------------


def _decode_with_both_feeds(data: bytes):
    whole = Decoder()
    frames = whole.feed(data)
    one_by_one = Decoder()
    assert [f for i in range(len(data)) for f in one_by_one.feed(data[i : i + 1])] == frames
    counters = whole.stats.as_dict()
    assert one_by_one.stats.as_dict() == counters
    return frames


@BUDGET
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_raise_nor_yield_a_bad_group(data: bytes) -> None:
    frames = _decode_with_both_feeds(data)
    assert_every_group_is_sound(data, frames)


framing_bytes = st.sampled_from([b"\x02", b"\x03", b"\x04", b"\r", b"\n", b"\t", b" "])


@st.composite
def damaged_streams(draw) -> tuple[bytes, bytes]:
    """A few good frames, then damage: bit flips, cuts, inserted framing bytes."""
    mode, groups = draw(mode_and_groups)
    good = encode_frame(groups, mode)
    stream = bytearray(good * draw(st.integers(1, 3)))
    for _ in range(draw(st.integers(1, 8))):
        where = draw(st.integers(0, len(stream) - 1))
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if action == "flip":
            stream[where] ^= 1 << draw(st.integers(0, 7))
        elif action == "insert":
            stream[where:where] = draw(framing_bytes | st.binary(min_size=1, max_size=4))
        elif action == "delete":
            del stream[where : where + draw(st.integers(1, 8))]
        else:
            del stream[where:]
        if not stream:
            stream += b"\x02"
    return bytes(stream), good


@BUDGET
@given(damaged_streams())
def test_damaged_streams_never_yield_a_bad_group_and_recover(damaged) -> None:
    stream, good = damaged
    frames = _decode_with_both_feeds(stream)
    assert_every_group_is_sound(stream, frames)

    # After any damage, the second of two good frames is decoded exactly.
    decoder = Decoder()
    decoder.feed(stream)
    recovered = decoder.feed(good + good)
    assert recovered, "no frame after two good ones"
    assert recovered[-1] == decode(good)[0]
    assert recovered[-1].rejected == ()


@BUDGET
@given(mode_and_groups, mode_and_groups, st.data())
def test_a_frame_cut_anywhere_then_a_new_frame_gives_the_new_frame_alone(first, second, data):
    """No ETX, no EOT, the cut anywhere (inside a group too): the new STX starts the new frame,
    which comes out exactly as sent; the unfinished one is dropped and counted."""
    old = encode_frame(first[1], first[0])
    cut = old[: data.draw(st.integers(2, len(old) - 1))]  # STX and at least one more byte
    new = encode_frame(second[1], second[0])
    decoder = Decoder()
    frames = decoder.feed(cut) + decoder.feed(new)
    assert frames == decode(new)
    assert decoder.stats.truncated == 1


def _next_frame(draw, mode: str, groups: list[tuple]) -> tuple[str, list[tuple]]:
    """What a meter may send after `groups`: most often the same groups with a few new values,
    sometimes a group more, less, twice, elsewhere or of a label no table knows, or a frame of
    another meter (another mode, another layout)."""
    if draw(st.integers(0, 9)) == 0:
        return draw(mode_and_groups)
    other = draw(historic_frames() if mode == "historic" else standard_frames())
    news = {group[0]: group for group in other}
    groups = list(groups)
    for _ in range(draw(st.integers(0, 6))):
        where = draw(st.integers(0, len(groups) - 1))
        action = draw(st.sampled_from(["value"] * 6 + ["swap", "drop", "twice", "unknown"]))
        if action == "value":
            groups[where] = news.get(groups[where][0], groups[where])
        elif action == "swap":
            there = draw(st.integers(0, len(groups) - 1))
            groups[where], groups[there] = groups[there], groups[where]
        elif action == "drop" and len(groups) > 1:
            del groups[where]
        elif action == "twice":
            groups.insert(draw(st.integers(0, len(groups))), groups[where])
        elif action == "unknown":
            groups[where] = ("ZLABEL", "1")
    return mode, groups


def _damaged(draw, wire: bytes) -> bytes:
    """`wire` with up to two bits flipped inside its body, never into a framing byte."""
    wire = bytearray(wire)
    for _ in range(draw(st.integers(0, 2))):
        where = draw(st.integers(1, len(wire) - 2))
        flipped = wire[where] ^ (1 << draw(st.integers(0, 7)))
        if flipped & 0x7F not in (0x02, 0x03, 0x04):
            wire[where] = flipped
    return bytes(wire)


@st.composite
def meter_streams(draw) -> list[bytes]:
    """Frames in a row, each derived from the one before it, each STX..ETX on the wire."""
    mode, groups = draw(mode_and_groups)
    frames = []
    for _ in range(draw(st.integers(2, 8))):
        frames.append(_damaged(draw, encode_frame(groups, mode)))
        mode, groups = _next_frame(draw, mode, groups)
    return frames


def _as_decoded(frame) -> tuple:
    return (
        frame.mode,
        list(frame.items()),
        dict(frame.raw_horodates),
        frame.rejected,
        frame.unknown,
    )


@BUDGET
@given(meter_streams())
def test_a_frame_decoded_after_others_is_the_frame_decoded_alone(stream: list[bytes]) -> None:
    """The decoder builds a frame like the one before from that frame's groups: whatever came
    before, each frame and each counter is what a decoder that saw that frame alone gives."""
    decoder = Decoder()
    frames = decoder.feed(b"".join(stream))
    alone, counters, modes = [], Counter(), []
    for wire in stream:
        fresh = Decoder()
        alone += fresh.feed(wire)
        counters.update(fresh.stats.as_dict())
        modes.append(fresh.mode)
    assert [_as_decoded(frame) for frame in frames] == [_as_decoded(frame) for frame in alone]
    switches = sum(before != after for before, after in zip(modes, modes[1:]))
    counters["mode_switches"] = switches
    seen = decoder.stats.as_dict()
    assert {name: n for name, n in seen.items() if n} == {n: c for n, c in counters.items() if c}


def _without_lineage(frame):
    """The same frame, built otherwise: nothing says it follows another."""
    horodates = dict(frame.raw_horodates)
    return Frame(
        dict(frame), frame.mode, frame.received_at, horodates, frame.rejected, frame.unknown
    )


@BUDGET
@given(meter_streams(), st.lists(st.integers(0, 3), min_size=8, max_size=8))
def test_the_guard_judges_a_frame_built_from_the_one_before_as_it_would_alone(stream, gaps):
    """The guard judges only the changed groups of a frame built from the frame it judged
    before (and those it could not call good then): it publishes the same frames and counts
    the same as for the same frames with no lineage, spikes, decreases, holds and all."""
    frames = Decoder().feed(b"".join(stream))
    start = datetime(2026, 7, 14, 9, 30, tzinfo=timezone.utc)
    for frame, gap in zip(frames, itertools.accumulate(gaps)):  # 0 to 3 s apart
        frame.received_at = start + timedelta(seconds=gap)
    guard, alone = PlausibilityGuard(), PlausibilityGuard()
    published = [_as_decoded(kept) for frame in frames for kept in guard.check(frame)]
    expected = [
        _as_decoded(kept) for frame in frames for kept in alone.check(_without_lineage(frame))
    ]
    assert published + [_as_decoded(kept) for kept in guard.flush()] == expected + [
        _as_decoded(kept) for kept in alone.flush()
    ]
    assert guard.stats.as_dict() == alone.stats.as_dict()


# -- the label table against the reference ----------------------------------------------------

REFERENCE_UNITS = {
    "Wh": ["BASE", "HCHC", "HCHP", "EJPHN", "EJPHPM", "EAST", "EAIT"]
    + [f"BBRH{p}J{c}" for p in "CP" for c in "BWR"]
    + [f"EASF{n:02d}" for n in range(1, 11)]
    + [f"EASD{n:02d}" for n in range(1, 5)],
    "VArh": [f"ERQ{n}" for n in range(1, 5)],
    "dal": ["GAZ", "AUTRE"],
    "A": ["ISOUSC", "IINST", "ADPS", "IMAX"]
    + [f"{s}{n}" for s in ("IINST", "IMAX", "ADIR", "IRMS") for n in "123"],
    "V": [f"{s}{n}" for s in ("URMS", "UMOY") for n in "123"],
    "kVA": ["PREF", "PCOUP"],
    "VA": ["PAPP", "SINSTS", "SINSTI", "SMAXSN", "SMAXSN-1", "SMAXIN", "SMAXIN-1"]
    + [f"SINSTS{n}" for n in "123"]
    + [f"SMAXSN{n}" for n in "123"]
    + [f"SMAXSN{n}-1" for n in "123"],
    "W": ["PMAX", "CCASN", "CCASN-1", "CCAIN", "CCAIN-1"],
    "min": ["PEJP"],
}


def test_label_table_has_every_label_of_the_reference_with_meaning_and_unit() -> None:
    for mode, formats in ORACLE_FORMATS.items():
        table = LABELS[mode]
        assert set(table) == set(formats), mode
        assert all(spec.meaning and spec.mode == mode for spec in table.values())
    units = {
        label: spec.unit for table in LABELS.values() for label, spec in table.items() if spec.unit
    }
    reference = {label: unit for unit, labels in REFERENCE_UNITS.items() for label in labels}
    pilot_series = {"SINST1": "VA", "SMAXN": "VA", "SMAXN-1": "VA"}
    assert units == {**reference, **pilot_series}
