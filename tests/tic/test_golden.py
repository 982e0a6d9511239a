"""Golden tests: every real capture, decoded, gives exactly these frames, values and refusals.

The expected refusals follow the per-file "failing groups" of tests/data/SOURCES.md (and of the
shared captures' SOURCES.md); each deliberate difference is explained next to its case. Groups
that SOURCES.md lists as failing but that sit in a partial frame at either end of a capture do
not appear here: the decoder drops partial frames whole (they count as garbage bytes).

Text captures (README and issue excerpts, index renderings, a repr file) lost the control bytes
of the wire; `lines_to_wire` and friends rebuild them in the smallest documented way.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import pytest

from teleinforeader.tic import Decoder, Frame

FRAME_START = (b"ADCO ", b"ADSC\t")


def lines_to_wire(text: bytes, close_last: bool = True) -> bytes:
    """Text with one group per line -> wire bytes: LF line CR per group, and an STX (after an
    ETX closing the previous frame) before every ADCO/ADSC line. Lines before the first one are
    a partial frame (garbage). `close_last` ends the last frame with ETX; excerpts cut mid-frame
    leave it open, so it is dropped as on a real line. Lines are never stripped: a trailing
    space is a checksum."""
    out = []
    started = False
    for line in text.split(b"\n"):
        if not line:
            continue
        if line.startswith(FRAME_START):
            out.append(b"\x03\x02" if started else b"\x02")
            started = True
        out.append(b"\n" + line + b"\r")
    if close_last and started:
        out.append(b"\x03")
    return b"".join(out)


def one_frame(lines: list[bytes]) -> bytes:
    return b"\x02" + b"".join(b"\n" + line + b"\r" for line in lines) + b"\x03"


_HORODATE = re.compile(rb"[HEhe ]\d{12}")


def _next_tab_stop(column: int) -> int:
    return (column // 8 + 1) * 8


def retab(line: bytes) -> bytes:
    """A standard group whose HTs were expanded to spaces at 8-column tab stops -> HTs back.

    The label ends at the first space, its HT at the next stop; a horodate (13 characters) has
    its own HT; the checksum is the last character, on a tab stop. The value keeps the fewest
    trailing spaces that still let its HT reach the checksum's column (NGTF, LTARF are padded).
    """
    checksum_at = len(line) - 1
    label_end = line.index(b" ")
    fields = [line[:label_end]]
    start = _next_tab_stop(label_end)
    if _HORODATE.fullmatch(line[start : start + 13]):
        fields.append(line[start : start + 13])
        start = _next_tab_stop(start + 12)
    value_end = start + len(line[start:checksum_at].rstrip(b" "))
    fields.append(line[start : max(value_end, checksum_at - 8)])
    return b"\t".join(fields) + b"\t" + line[checksum_at:]


def bytes_literals(text: bytes) -> list[bytes]:
    """The b'...' literals of a log or repr file, evaluated safely (no code runs)."""
    found = re.findall(rb"b'((?:[^'\\]|\\.)*)'", text)
    return [ast.literal_eval("b'" + literal.decode("ascii") + "'") for literal in found]


def _as_is(data: bytes) -> bytes:
    return data


def _lines(data: bytes) -> bytes:
    return lines_to_wire(data)


def _lines_cut(data: bytes) -> bytes:
    return lines_to_wire(data, close_last=False)


def _body_only(data: bytes) -> bytes:
    """A frame body (LF..CR groups) saved without its STX/ETX."""
    return b"\x02" + data + b"\x03"


@dataclass
class Case:
    name: str
    convert: Callable[[bytes], bytes]
    frames: int
    groups: int | list[int]  # per frame: one number when they are all equal
    rejected: dict[tuple[str, str | None], int]
    stats: dict[str, int]  # non-zero counters other than frames/groups/rejected
    values: dict[int, dict[str, str]] = field(default_factory=dict)  # frame index -> values
    horodates: dict[int, dict[str, str]] = field(default_factory=dict)


CASES = [
    Case(
        # ADCO anonymised with its original checksum: fails in all 53 frames; "IINST 009 ." had
        # its SPACE checksum replaced by '.', so it fails. Ends mid-frame.
        "historic-base-jlesauce-TeleInfoMonitor.txt",
        _lines_cut,
        52,
        [9] * 45 + [8, 8, 9, 8, 9, 8, 9],
        {("checksum", "ADCO"): 52, ("checksum", "IINST"): 4},
        {"garbage_bytes": 82},
        {
            0: {"BASE": "008735124", "PAPP": "02380", "PTEC": "TH.."},
            -1: {"BASE": "008735175", "PAPP": "02300"},
        },
    ),
    Case(
        # CR LF line ends, STX/ETX stripped by the capture: LF line CR rebuilt; the last frame
        # is the truncated "ADCO 02186" and stays open.
        "historic-base-Ilshidur-linky-teleinfo-prometheus-exporter.bin",
        lambda data: lines_to_wire(data.replace(b"\r\n", b"\n"), close_last=False),
        4,
        10,
        {},
        {"garbage_bytes": 113},
        {
            0: {"ADCO": "021861362478", "BASE": "005104639", "PAPP": "00570"},
            -1: {"BASE": "005104640", "PAPP": "00560", "HHPHC": "A"},
        },
    ),
    Case(
        "historic-base-enedis-TIC2WebSocket.bin",
        _as_is,
        1,
        9,
        {},
        {},
        {0: {"ADCO": "812164417227", "OPTARIF": "BASE", "BASE": "000000104", "PAPP": "00000"}},
    ),
    Case(
        # The README writes STX as the text "0x02" on its own line (garbage before the frame)
        # and glues "0x03" to MOTDETAT, which then has no separator before its checksum.
        "historic-base-angristan-teleinfo2mqtt-rs-README.txt",
        _lines,
        1,
        9,
        {("malformed", "MOTDETAT"): 1},
        {"garbage_bytes": 6},
        {0: {"ADCO": "012345678912", "BASE": "002815235", "PTEC": "TH..", "HHPHC": "A"}},
    ),
    Case(
        # ADCO masked; "PTEC HP.." lost its separator and SPACE checksum in the text. SOURCES.md
        # counts that line as passing (its checksum would be a space); the decoder cannot know
        # what was lost and refuses it as malformed.
        "historic-hchp-kalemena-iot-tools.txt",
        _lines,
        1,
        9,
        {("checksum", "ADCO"): 1, ("malformed", "PTEC"): 1},
        {},
        {0: {"HCHC": "010956910", "HCHP": "016779643", "IINST": "021", "PAPP": "04860"}},
    ),
    Case(
        # Bytes lost on the console: the end of ISOUSC and the start of BBRHCJB are one line.
        "historic-tempo-noisy-Radis35-README.txt",
        _lines,
        1,
        13,
        {("checksum", "ISOUSC"): 1, ("malformed", "MOTDETAT"): 1},
        {},
        {0: {"ADCO": "031562151396", "OPTARIF": "BBR(", "BBRHPJB": "049771526", "DEMAIN": "----"}},
    ),
    Case(
        # Dropped characters on screen: "HHHCA " and "MTDTAT000000 B"; ADCO is 14 x.
        "historic-base-noisy-hleroy-teleinfo-linky-README.txt",
        _lines,
        1,
        7,
        {("checksum", "ADCO"): 1, ("malformed", "HHHCA"): 1, ("checksum", "MTDTAT000000"): 1},
        {"garbage_bytes": 19},
        {0: {"BASE": "028563823", "PTEC": "TH..", "PAPP": "00760"}},
    ),
    Case(
        "historic-tri-base-nextdom-issue24.txt",
        _lines,
        1,
        15,
        {},
        {},
        {0: {"ADCO": "021330274552", "IINST3": "002", "PMAX": "15020", "PAPP": "01095"}},
    ),
    Case(
        # ADCO "XXXXXXXXXXXX" has a recomputed checksum (SOURCES.md: passes) but is not 12
        # digits: refused on format, deliberately. The excerpt ends on a cut frame.
        "historic-tri-base-openhab-index.txt",
        _lines_cut,
        1,
        14,
        {("format", "ADCO"): 1},
        {"garbage_bytes": 19},
        {0: {"BASE": "001181243", "IINST2": "002", "MOTDETAT": "400000", "PPOT": "00"}},
    ),
    Case(
        # Same anonymisation as above (10 X): format refusal, deliberate.
        "historic-ejp-tri-openhab-index.txt",
        _lines_cut,
        1,
        15,
        {("format", "ADCO"): 1},
        {"garbage_bytes": 19},
        {0: {"OPTARIF": "EJP.", "EJPHN": "001111111", "EJPHPM": "002222222", "PTEC": "HN.."}},
    ),
    Case(
        # Three console captures; the stray "5" is the tail of a cut group.
        "historic-hchp-hallard-teleinfo-test-README.txt",
        _lines,
        5,
        [8, 11, 8, 11, 11],
        {("malformed", "5"): 1},
        {"garbage_bytes": 82},
        {0: {"HCHC": "000723392", "PTEC": "HP.."}, -1: {"HCHP": "001742220", "PAPP": "00190"}},
    ),
    Case(
        # Raw stream: 6 NUL bytes then a partial frame, 13 complete frames, a cut one.
        "historic-hchp-nokyyz-teleinfo-1.bin",
        _as_is,
        13,
        11,
        {},
        {"garbage_bytes": 51},
        {0: {"ADCO": "031328187235", "HCHP": "007617931"}, -1: {"HCHP": "007617934"}},
    ),
    Case(
        "historic-hchp-nokyyz-teleinfo-2.bin",
        _as_is,
        123,
        11,
        {},
        {"garbage_bytes": 171},
        {0: {"HCHP": "007617943", "PAPP": "01130"}, -1: {"HCHP": "007617982", "PAPP": "01120"}},
    ),
    Case(
        "historic-hchp-nokyyz-teleinfo-3.bin",
        _as_is,
        198,
        11,
        {},
        {"garbage_bytes": 18},
        {0: {"HCHP": "007617990", "IINST": "005"}, -1: {"HCHP": "007618020", "IINST": "001"}},
    ),
    Case(
        # Captured through a cooked tty: every CR became LF and ETX was swallowed. No group
        # ends with CR and no frame ends: the decoder, which sees what a line sends, refuses
        # all of it. Each STX cuts the previous frame: 700 STX, 699 truncated frames, 100
        # leading bytes. The replay source repairs such a capture before decoding it
        # (tests/sources/test_cooked_capture.py).
        "historic-hchp-pboettch-teleinfo-c-dump-head.bin",
        _as_is,
        0,
        [],
        {},
        {"truncated": 699, "garbage_bytes": 100},
    ),
    Case(
        # ADCO anonymised to 13 digits with the original checksum: fails in every frame (the
        # seventh ADCO is in the partial first frame).
        "historic-hchp-destroyedlolo-TeleInfod.bin",
        _as_is,
        6,
        10,
        {("checksum", "ADCO"): 6},
        {"garbage_bytes": 59},
        {0: {"HCHC": "024243439", "HCHP": "022032205", "PTEC": "HP.."}},
    ),
    Case(
        "historic-tempo-pyteleinfo-captured_frames.bin",
        _as_is,
        10,
        16,
        {},
        {},
        {
            0: {"ADCO": "021861348497", "BBRHCJB": "018328856", "DEMAIN": "ROUG", "PAPP": "02840"},
            -1: {"BBRHCJB": "018328876", "PAPP": "02850"},
        },
    ),
    Case(
        # One Python bytes literal per frame: evaluated with ast.literal_eval and concatenated.
        "historic-tempo-pyteleinfo-captured_frames-repr.txt",
        lambda data: b"".join(bytes_literals(data)),
        10,
        16,
        {},
        {},
        {0: {"BBRHCJB": "018328702", "PAPP": "02830"}, -1: {"BBRHCJB": "018328721"}},
    ),
    Case(
        # The truncated last group "HHPHC A" belongs to a frame that never ends: not decoded.
        "historic-tempo-teleinfo-nom-stream_legacy_raw.bin",
        _as_is,
        1,
        16,
        {},
        {"garbage_bytes": 139},
        {0: {"ADCO": "031961098836", "BBRHCJB": "001478389", "DEMAIN": "BLEU"}},
    ),
    Case(
        "historic-tempo-teleinfo-nom-message.bin",
        _body_only,
        1,
        16,
        {},
        {},
        {0: {"ADCO": "031961098836", "PTEC": "HPJB", "IMAX": "060"}},
    ),
    Case(
        "standard-mono-enedis-TIC2WebSocket.bin",
        _as_is,
        1,
        38,
        {},
        {},
        {0: {"ADSC": "031664001115", "LTARF": "INDEX INACTIF 2 ", "PREF": "03", "PCOUP": "02"}},
        {0: {"DATE": "E170915101601", "SMAXSN": "E170915100926"}},
    ),
    Case(
        "standard-mono-enedis-TIC2WebSocket-PCOUP_Invalid.bin",
        _as_is,
        1,
        37,
        {("checksum", "PCOUP"): 1},
        {},
        {0: {"ADSC": "031664001115", "PREF": "03", "STGE": "000A4411"}},
    ),
    Case(
        # ADSC anonymised to 11 digits with a recomputed checksum (SOURCES.md: passes): a real
        # ADSC has 12, so the decoder refuses it on format, deliberately.
        "standard-mono-goteleinfo.bin",
        _as_is,
        1,
        37,
        {("format", "ADSC"): 1},
        {},
        {0: {"NGTF": " HC et Week-End ", "EAST": "017026175", "SINSTS": "00519"}},
        {0: {"DATE": "H191203125805"}},
    ),
    Case(
        # Noise inside four groups, three of them with STX bytes (one a run of six): an STX
        # always starts a frame, so frames 1, 3 and 8 are cut there (six truncated, the STX
        # right after another one is garbage) and resume with the groups after the noise, the
        # bytes up to the next LF refused. The logger moved the ADSC of frame 4 into frame 3,
        # which SOURCES.md, checking lines and not frames, counts as good.
        "standard-mono-prod-fmartinou-teleinfo2mqtt.bin",
        _as_is,
        9,
        [9, 48, 23, 47, 48, 48, 48, 25, 48],
        {("malformed", None): 3},
        {"truncated": 6, "garbage_bytes": 4},
        {
            1: {"ADSC": "031764953443", "EAIT": "003626872", "SINSTI": "01678"},
            3: {"ADSC": None, "EAIT": "003626873", "SINSTI": "01686"},
            -1: {"EAIT": "003626876", "SINSTI": "01486", "PRM": "14405933300802"},
        },
        {1: {"DATE": "H250307134350"}, -1: {"DATE": "H250307134358"}},
    ),
    Case(
        # Hand-edited copy: a spliced SMAXSN-1 (SPACE checksum) replaces SMAXIN-1 in frame 2,
        # where SMAXSN-1 already is: the second is a duplicate. The trailing ADSC and the
        # unterminated SMAXSN-1 are in a frame that never ends.
        "standard-mono-prod-fmartinou-teleinfo2mqtt-edited.bin",
        _as_is,
        9,
        [9, 47, 23, 47, 48, 48, 48, 25, 48],
        {("malformed", None): 3, ("duplicate", "SMAXSN-1"): 1},
        {"truncated": 6, "garbage_bytes": 4},
        {1: {"ADSC": "031764953443"}, -1: {"EAIT": "003626876"}},
    ),
    Case(
        # ADSC anonymised (13 characters) with the original checksum: fails in every frame.
        "standard-mono-prod-destroyedlolo-TeleInfod-trame_standard.bin",
        _as_is,
        7,
        43,
        {("checksum", "ADSC"): 7},
        {"garbage_bytes": 251},
        {0: {"EAIT": "007472722", "NGTF": "   PRODUCTEUR   ", "LTARF": " INDEX NON CONSO"}},
        {-1: {"DATE": "E241011010537"}},
    ),
    Case(
        # ADSC and PRM anonymised with the original checksums: two refusals per frame.
        "standard-mono-prod-destroyedlolo-TeleInfod-trame_linky.bin",
        _as_is,
        24,
        42,
        {("checksum", "ADSC"): 24, ("checksum", "PRM"): 24},
        {"garbage_bytes": 971},
        {0: {"EAIT": "000133862", "SINSTI": "00171", "STGE": "003A0301"}},
        {0: {"DATE": "E210603202811"}, -1: {"DATE": "E210603202834"}},
    ),
    Case(
        # Index rendering without CR: one group per line. The garbage-glued "EP*PREF" is in
        # the partial first frame; the excerpt ends on a cut frame.
        "standard-mono-prod-openhab-index.txt",
        _lines_cut,
        1,
        46,
        {},
        {"garbage_bytes": 514},
        {0: {"ADSC": "123456789012", "NGTF": "PRODUCTEUR", "SINSTI": "01253", "EAIT": "000032781"}},
        {0: {"DATE": "E180716103423"}},
    ),
    Case(
        "standard-tri-prod-tempo-openhab-index.txt",
        _lines_cut,
        2,
        63,
        {},
        {"garbage_bytes": 956},
        {0: {"EAST": "011604109", "EAIT": "000671631", "URMS3": "242", "STGE": "013A0501"}},
        {0: {"DATE": "E210414082625"}},
    ),
    Case(
        "standard-tri-tempo-teleinfo-nom-message_standard.bin",
        _body_only,
        1,
        55,
        {},
        {},
        {0: {"ADSC": "041776199277", "NGTF": "     TEMPO      ", "STGE": "463A0800"}},
        {0: {"DATE": "H200214230804", "SMAXSN": "H200214175135"}},
    ),
    Case(
        # The two bad groups of SOURCES.md (EAST, EASD01 without CR) are in the partial frame.
        "standard-tri-tempo-teleinfo-nom-stream_standard_complete.bin",
        _as_is,
        1,
        55,
        {},
        {"garbage_bytes": 165},
        {0: {"ADSC": "041776199277", "EAST": "021849106", "LTARF": "   HC  BLANC    "}},
    ),
    Case(
        # 15 bad groups in SOURCES.md: EAST, one EASD01 without CR (first, partial frame), one
        # NTARF and SMAXSN1 (last, unterminated frame) are dropped with their frames; the 12
        # others are refused one by one and every frame keeps its other groups (55 in all).
        "standard-tri-tempo-noisy-teleinfo-nom-stream_standard_raw.bin",
        _as_is,
        7,
        [55, 54, 52, 53, 52, 52, 55],
        {
            ("malformed", None): 2,  # EASD01 and EASF06 whose CR became FF
            ("checksum", "EASF09"): 1,
            ("checksum", "EASD02"): 1,
            ("checksum", "EASF07"): 1,
            ("checksum", "NTARF"): 1,
            ("checksum", "SMAXSN2-1"): 1,
            ("checksum", "FPM1"): 1,
            ("checksum", "SINSTS1"): 1,
            ("checksum", None): 3,  # CC@SN, CC@SN-1, @COUP: '@' is not a label character
        },
        {"garbage_bytes": 1180},
        {0: {"EAST": "021849106", "SINSTS": "02700"}, -1: {"EAST": "021849109"}},
        {0: {"DPM1": " 200214060000"}},
    ),
    Case(
        # Every line of the issue comment starts with "> "; the excerpt is cut at both ends.
        "standard-tri-tempo-tasmota-issue38.txt",
        lambda data: lines_to_wire(
            b"\n".join(line[2:] for line in data.split(b"\n")), close_last=False
        ),
        0,
        [],
        {},
        {"garbage_bytes": 386},
    ),
    Case(
        # HTs expanded to spaces (rebuilt by `retab`); one excerpt of one frame. The pasted
        # labels that lost their first letter and the user's fake second ADSC fail.
        "standard-tri-hchp-noisy-linkytic-issue2-tabs-expanded.txt",
        lambda data: one_frame([retab(line) for line in data.split(b"\n") if line]),
        1,
        29,
        {
            ("checksum", "ADSC"): 1,
            ("checksum", "TIC"): 1,
            ("checksum", "RMS1"): 1,
            ("checksum", "RMS2"): 1,
            ("checksum", "RMS3"): 1,
            ("checksum", "REF"): 1,
            ("checksum", "COUP"): 1,
        },
        {},
        {0: {"ADSC": "022576055084", "NGTF": "H PLEINE/CREUSE ", "LTARF": " HEURE  CREUSE  "}},
        {0: {"DATE": "H260319062210", "SMAXSN": "H260319051418"}},
    ),
]


def _nonzero_stats(decoder: Decoder) -> dict[str, int]:
    return {
        name: count
        for name, count in decoder.stats.as_dict().items()
        if count and name not in ("frames", "groups") and not name.startswith("rejected_")
    }


def _rejections(frames: list[Frame]) -> Counter:
    return Counter((rejection.reason, rejection.label) for f in frames for rejection in f.rejected)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_capture_decodes_to_exactly_these_frames(case: Case, capture) -> None:
    decoder = Decoder()
    frames = decoder.feed(case.convert(capture(case.name)))

    assert len(frames) == case.frames
    groups = case.groups if isinstance(case.groups, list) else [case.groups] * case.frames
    assert [len(frame) for frame in frames] == groups
    assert _rejections(frames) == Counter(case.rejected)
    assert _nonzero_stats(decoder) == case.stats
    assert decoder.stats.frames == case.frames
    assert decoder.stats.groups == sum(groups)
    assert decoder.stats.rejected_groups == sum(case.rejected.values())
    for index, values in case.values.items():
        assert {label: frames[index].get(label) for label in values} == values
    for index, horodates in case.horodates.items():
        raw = frames[index].raw_horodates
        assert {label: raw.get(label) for label in horodates} == horodates
    assert all(frame.unknown == frozenset() for frame in frames)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_capture_fed_byte_by_byte_gives_the_same_frames_and_counts(case: Case, capture) -> None:
    data = case.convert(capture(case.name))
    whole = Decoder().feed(data)
    decoder = Decoder()
    pieces = [decoder.feed(data[i : i + 1]) for i in range(len(data))]
    assert [frame for piece in pieces for frame in piece] == whole
    reference = Decoder()
    reference.feed(data)
    assert decoder.stats.as_dict() == reference.stats.as_dict()


def test_linkytic_issue_log_lines(capture) -> None:
    """Groups quoted as bytes reprs in error logs of user issues, each decoded alone as the only
    group of a frame. SOURCES.md: one historic group passes, nine fail, ten standard pass (five
    lines hold two groups, the LF of the second corrupted into SO/SI/VT: the decoder
    resynchronises on the CR). Deliberate difference: the passing HCHP group sits before a real
    EOT, which interrupts its frame, so the decoder drops it with the frame."""
    outcomes = []
    for literal in bytes_literals(capture("noisy-mixed-linkytic-issues-logs.txt")):
        decoder = Decoder()
        frames = decoder.feed(one_frame([literal]))
        accepted = [label for frame in frames for label in frame]
        outcomes.append((accepted, dict(decoder.stats.rejected), decoder.stats.interrupted))
    assert outcomes == [
        ([], {"malformed": 1}, 1),  # HCHP ... CR EOT STX LF: interrupted, then an empty group
        ([], {"charset": 1}, 0),  # ISOUSC 45 DEL
        ([], {"checksum": 1}, 0),  # 0xBF PTARIF: masked to '?', checksum fails
        ([], {"checksum": 1}, 0),  # ?(TARIF
        ([], {"checksum": 1}, 0),  # ?PTARIF
        ([], {"checksum": 1}, 0),  # M?0xAA DETAT
        ([], {"checksum": 1}, 0),  # ADSC
        ([], {"charset": 1}, 0),  # PRM ... N FF
        ([], {"checksum": 1}, 0),  # EASD01 06476 712: a digit turned into a space
        ([], {"charset": 1}, 0),  # SMAXSN-1 ... BS R
        (["EASF03", "EASF04"], {}, 0),
        (["EASF04", "EASF05"], {}, 0),
        (["IRMS3", "URMS1"], {}, 0),
        (["EASF03", "EASF04"], {}, 0),
        (["NJOURF+1", "PJOURF+1"], {}, 0),
    ]
