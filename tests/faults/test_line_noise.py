"""Line noise at realistic rates: single-bit flips, dropped bytes, a frame cut by EOT, bursts of
garbage, and the meter switching from historic to standard mode halfway. Only the damaged
groups are lost, and the counters say exactly how many.

The expected losses are computed here, independently of the decoder: each damaged group is
judged again with the protocol's rules (7-bit mask, separators, checksum, the label's format).
A flip of the parity bit is masked and costs nothing; a flip of bit 6 keeps the checksum, so the
format alone decides (a digit becomes a letter and is refused; a space in a text becomes a
backquote and goes through, changed). Flips are kept to values and never create a framing byte
or a separator (those are the decoder's unit tests' business); dropped bytes hit anywhere
between a group's LF and CR.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from teleinforeader.tic import Decoder, encode_group
from tests.faults.fault_helpers import DaemonProcess, write_config

FRAMES_PER_MODE = 1000
FLIP_RATE = 0.005  # per group: a noisy but working line
DROP_RATE = 0.002  # per group
EOT_RATE = 1 / 300  # per frame
GARBAGE_RATE = 1 / 150  # per frame, between frames
_FRAMING = {0x02, 0x03, 0x04, 0x0A, 0x0D}

DIGITS = {n: f"[0-9]{{{n}}}" for n in (2, 3, 5, 9, 12)}
FORMATS = {
    "historic": {
        "ADCO": DIGITS[12],
        "OPTARIF": r"BASE|HC\.\.|EJP\.|BBR[ -~]",
        "ISOUSC": DIGITS[2],
        "BASE": DIGITS[9],
        "PTEC": r"TH\.\.|HC\.\.|HP\.\.",
        "IINST": DIGITS[3],
        "IMAX": DIGITS[3],
        "PAPP": DIGITS[5],
        "HHPHC": "[A-Z0-9]",
        "MOTDETAT": "[0-9A-F]{6}",
    },
    "standard": {
        "ADSC": DIGITS[12],
        "VTIC": DIGITS[2],
        "DATE": "",
        "NGTF": "[ -~]{0,16}",
        "LTARF": "[ -~]{0,16}",
        "EAST": DIGITS[9],
        "IRMS1": DIGITS[3],
        "URMS1": DIGITS[3],
        "PREF": DIGITS[2],
        "SINSTS": DIGITS[5],
        "STGE": "[0-9A-F]{8}",
    },
}
HORODATE = r"[HEhe ][0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])([01][0-9]|2[0-3])[0-5][0-9]{3}"


def historic_groups(n: int) -> list[tuple[str, str | None, str]]:
    return [
        ("ADCO", None, "021728123456"),
        ("OPTARIF", None, "BASE"),
        ("ISOUSC", None, "30"),
        ("BASE", None, f"{1_000_000 + n:09d}"),
        ("PTEC", None, "TH.."),
        ("IINST", None, f"{n % 30:03d}"),
        ("IMAX", None, "090"),
        ("PAPP", None, f"{(n * 37) % 6000:05d}"),
        ("HHPHC", None, "A"),
        ("MOTDETAT", None, "000000"),
    ]


def standard_groups(n: int) -> list[tuple[str, str | None, str]]:
    seconds = n % 60
    return [
        ("ADSC", None, "041776123456"),
        ("VTIC", None, "02"),
        ("DATE", f"H2611261200{seconds:02d}", ""),
        ("NGTF", None, "     TEMPO      "),
        ("LTARF", None, "    HP  BLEU    "),
        ("EAST", None, f"{2_000_000 + n:09d}"),
        ("IRMS1", None, f"{n % 30:03d}"),
        ("URMS1", None, "231"),
        ("PREF", None, "06"),
        ("SINSTS", None, f"{(n * 37) % 6000:05d}"),
        ("STGE", None, "013A0001"),
    ]


def judge(mode: str, group: bytes) -> tuple[str, str] | None:
    """(label, value) of a group between LF and CR, or None when the protocol refuses it."""
    masked = bytes(byte & 0x7F for byte in group)
    separator = " " if mode == "historic" else "\t"
    if any((b < 0x20 and b != 0x09) or b == 0x7F for b in masked):
        return None
    text = masked.decode("ascii")
    if mode == "historic" and "\t" in text:
        return None
    if len(text) < 4 or text[-2] != separator:
        return None
    checked = text[:-2] if mode == "historic" else text[:-1]
    if chr(0x20 + sum(checked.encode("ascii")) % 64) != text[-1]:
        return None
    fields_ = text[:-2].split(separator, 1 if mode == "historic" else 2)
    label, horodate, value = (fields_[0], None, fields_[-1])
    if len(fields_) == 3:
        horodate = fields_[1]
    elif len(fields_) != 2:
        return None
    pattern = FORMATS[mode].get(label)
    if pattern is None or not re.fullmatch(pattern, value):
        return None
    if (horodate is not None) != (label == "DATE"):
        return None
    if horodate is not None and not re.fullmatch(HORODATE, horodate):
        return None
    return label, value


@dataclass
class NoisyLine:
    """The damaged stream and what the decoder must make of it."""

    stream: bytearray = field(default_factory=bytearray)
    frames: list[dict[str, str]] = field(default_factory=list)
    groups_sent: int = 0
    refused: int = 0  # damaged groups the protocol refuses, in frames that reach their ETX
    changed: int = 0  # damaged groups that still pass, with another value
    masked: int = 0  # damage the 7-bit mask undoes
    lost_to_eot: int = 0  # every group of a frame cut by EOT
    interrupted: int = 0
    garbage: int = 0


def flip_in_value(rng: random.Random, group: bytearray, value_at: int, mode: str) -> bool:
    """Flip one bit of the value, unless that would make a framing byte or a separator."""
    if value_at >= len(group) - 2:  # an empty value (DATE)
        return False
    where = rng.randrange(value_at, len(group) - 2)
    flipped = group[where] ^ (1 << rng.randrange(8))
    forbidden = _FRAMING | {0x09, 0x20 if mode == "historic" else 0x09}
    if flipped & 0x7F in forbidden:
        return False
    group[where] = flipped
    return True


def noisy_line(seed: int) -> NoisyLine:
    rng = random.Random(seed)
    line = NoisyLine()
    sequence = [("historic", historic_groups(n)) for n in range(FRAMES_PER_MODE)]
    sequence += [("standard", standard_groups(n)) for n in range(FRAMES_PER_MODE)]
    for mode, groups in sequence:
        if rng.random() < GARBAGE_RATE:
            burst = bytes(b for b in rng.randbytes(rng.randint(5, 64)) if b & 0x7F not in (2, 3, 4))
            line.stream += burst
            line.garbage += len(burst)
        cut_after = rng.randrange(len(groups)) if rng.random() < EOT_RATE else None
        frame = bytearray(b"\x02")
        expected: dict[str, str] = {}
        refused = 0
        for position, (label, horodate, value) in enumerate(groups):
            wire = bytearray(encode_group(label, value, mode, horodate))
            body = wire[1:-1]  # between LF and CR
            value_at = len(body) - 2 - len(value)
            damaged = False
            if rng.random() < FLIP_RATE:
                damaged = flip_in_value(rng, body, value_at, mode)
            if rng.random() < DROP_RATE:
                del body[rng.randrange(len(body))]
                damaged = True
            verdict = judge(mode, bytes(body))
            if verdict is None:
                refused += 1
            else:
                expected[verdict[0]] = verdict[1]
                if damaged and verdict[1] != value:
                    line.changed += 1
                elif damaged:
                    line.masked += 1
            frame += b"\n" + body + b"\r"
            line.groups_sent += 1
            if position == cut_after:
                frame += b"\x04"
                tail_start = len(frame)
        frame += b"\x03"
        if cut_after is not None:
            line.interrupted += 1
            line.lost_to_eot += len(groups)
            line.garbage += len(frame) - tail_start  # what follows the EOT is outside a frame
        else:
            line.refused += refused
            line.frames.append(expected)
        line.stream += frame
    return line


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_only_the_damaged_groups_are_lost_and_the_counters_say_how_many(seed: int) -> None:
    line = noisy_line(seed)
    assert line.refused > 20 and line.interrupted and line.garbage  # the noise did happen
    decoder = Decoder()  # auto: it must follow the switch to standard mode
    rng = random.Random(seed)
    frames, position = [], 0
    while position < len(line.stream):  # chunks as a serial driver hands them over
        size = rng.choice((1, 16, 64, 4096))
        frames += decoder.feed(bytes(line.stream[position : position + size]))
        position += size
    stats = decoder.stats
    assert [dict(frame) for frame in frames] == line.frames
    decoded_groups = sum(len(frame) for frame in frames)
    assert line.groups_sent - decoded_groups == line.refused + line.lost_to_eot
    assert stats.rejected_groups == line.refused
    assert stats.interrupted == line.interrupted
    assert stats.garbage_bytes == line.garbage
    assert stats.mode_switches == 1
    assert stats.frames == len(line.frames)
    assert stats.truncated == stats.oversize == stats.empty == 0
    print(
        f"seed {seed}: {line.groups_sent} groups, {line.refused} refused, {line.changed} "
        f"changed but valid, {line.masked} damage masked, {line.interrupted} frames cut by EOT "
        f"({line.lost_to_eot} groups), {line.garbage} garbage bytes"
    )


def test_the_daemon_reports_the_same_counters(tmp_path: Path) -> None:
    line = noisy_line(4)
    capture = tmp_path / "noisy.bin"
    capture.write_bytes(bytes(line.stream))
    config = write_config(
        tmp_path / "teleinforeader.toml",
        {
            "source": {"type": "replay", "file": str(capture), "speed": 0},
            "database": {"backend": "none"},
            "server": {"enabled": False},
            "daemon": {"state_directory": str(tmp_path / "state")},
        },
    )
    with DaemonProcess(config) as daemon:
        assert daemon.wait(60) == 0, daemon.log[-20:]
    counters = daemon.summary()  # the "stopped:" line
    rejected = sum(n for name, n in counters.items() if name.startswith("rejected_"))
    # The guard's refusals are named after their reason too; none fire on this steady meter.
    assert rejected == line.refused
    assert counters["interrupted"] == line.interrupted
    assert counters["garbage_bytes"] == line.garbage
    assert counters["mode_switches"] == 1
    assert counters["frames"] == len(line.frames)
