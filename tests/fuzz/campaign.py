"""Fuzzing the two parsers that take input from outside: the TIC decoder and the config loader.

The properties are plain functions, so the suite runs them with a small Hypothesis budget
(tests/fuzz/test_fuzz.py) and `make fuzz` runs them for minutes (`python -m tests.fuzz.campaign
--seconds 600`): rounds of fresh random examples, target after target, until the time is up,
then a table of inputs tried and crashes. A crash is any broken property, shrunk by Hypothesis
to a small example and printed; the campaign goes on with the next round and exits 1 at the end.

- Decoder: bytes from real captures, damaged (bit flips, lost bytes, framing bytes inserted,
  splices) or random bytes, fed in random chunks. It must never raise, give the same frames
  whatever the chunking, and every group it yields must be on the wire byte for byte with a good
  checksum (computed here, not by the decoder) and a value its label allows, every frame
  within one STX..ETX with no other STX or EOT inside (an STX always starts a frame).
- Config loader: random bytes, random text, and TOML built from the real section and key names
  with values of every TOML type. It must return settings or raise ConfigError whose message is
  one line naming the file; any other exception is a crash.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as clock_time
from pathlib import Path
from typing import Any, Callable

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from teleinforeader.config import ConfigError, load_settings
from teleinforeader.settings import Settings, fields, is_section
from teleinforeader.tic import LABELS, Decoder, Frame
from teleinforeader.tic.decoder import MAX_FRAME

DATA = Path(__file__).resolve().parent.parent / "data"
CAPTURE_BYTES = 12_000  # the captures are small; a bound keeps a future big one cheap
_MASK_7BIT = bytes(range(128)) * 2

# -- the decoder ---------------------------------------------------------------------------------


def real_captures() -> list[bytes]:
    return [path.read_bytes()[:CAPTURE_BYTES] for path in sorted(DATA.glob("*.bin"))]


def wire_group(mode: str, label: str, horodate: str | None, value: str) -> bytes:
    """The group from its label to its CR, with the checksum computed from the protocol
    reference (its LF may have been damaged: the decoder resynchronises on the CR before)."""
    separator = " " if mode == "historic" else "\t"
    region = separator.join([label, value] if horodate is None else [label, horodate, value])
    if mode == "historic":  # the separator before the checksum is outside the checked region
        checked, tail = region.encode("ascii"), separator.encode("ascii")
    else:
        checked, tail = (region + separator).encode("ascii"), b""
    return checked + tail + bytes([0x20 + sum(checked) % 64]) + b"\r"


def check_decoder(data: bytes, cuts: Sequence[int]) -> int:
    """Decode `data` whole and in chunks of the sizes `cuts` (cycled); return the frame count."""
    whole = Decoder()
    frames = whole.feed(data)
    chunked = Decoder()
    pieces: list = []
    position, turn = 0, 0
    while position < len(data):
        size = cuts[turn % len(cuts)]
        pieces += chunked.feed(data[position : position + size])
        position, turn = position + size, turn + 1
    assert pieces == frames, "the chunking changed the frames"
    assert chunked.stats.as_dict() == whole.stats.as_dict(), "the chunking changed the counters"
    assert_sound(data, frames)
    return len(frames)


def complete_bodies(wire: bytes) -> list[bytes]:
    """What lies between each STX and the next framing byte, when that byte is ETX: the only
    places a frame can come from (an STX always starts a frame; EOT or a new STX drop it)."""
    bodies = []
    for start in (i for i, byte in enumerate(wire) if byte == 0x02):
        end = start + 1
        while end < len(wire) and wire[end] not in (0x02, 0x03, 0x04):
            end += 1
        if end < len(wire) and wire[end] == 0x03 and end - start - 1 <= MAX_FRAME:
            bodies.append(wire[start + 1 : end])
    return bodies


def assert_framed(data: bytes, frames: Sequence[Frame]) -> None:
    """Each frame comes whole from one complete STX..ETX body, in order, one frame a body."""
    bodies = iter(complete_bodies(data.translate(_MASK_7BIT)))
    for frame in frames:
        groups = [
            wire_group(frame.mode, label, frame.raw_horodates.get(label), value)
            for label, value in frame.items()
        ]
        assert any(all(group in body for group in groups) for body in bodies), (
            f"a frame mixes groups of two frames, or has no STX..ETX of its own: {dict(frame)}"
        )


def assert_sound(data: bytes, frames: Sequence[Frame]) -> None:
    """Every group of `frames` is in `data` with a good checksum and a value its label allows,
    and every frame comes from one STX..ETX body."""
    assert_framed(data, frames)
    wire = data.translate(_MASK_7BIT)
    for frame in frames:
        assert len(frame) > 0
        for label, value in frame.items():
            horodate = frame.raw_horodates.get(label)
            group = wire_group(frame.mode, label, horodate, value)
            assert group in wire, f"{group!r} is not in the input"
            spec = LABELS[frame.mode].get(label)
            if spec is not None:
                assert label not in frame.unknown
                assert spec.check(value.encode("ascii")), f"{label}={value!r} breaks its format"
            else:
                assert label in frame.unknown


_MUTATIONS = ("flip", "delete", "insert", "framing", "splice", "truncate")
_FRAMING = [b"\x02", b"\x03", b"\x04", b"\r", b"\n", b"\t", b" ", b"\x02\n", b"\r\n"]


@st.composite
def damaged_captures(draw: st.DrawFn, captures: Sequence[bytes]) -> bytes:
    stream = bytearray(draw(st.sampled_from(captures)))
    start = draw(st.integers(0, len(stream) - 1))
    stream = stream[start : start + draw(st.integers(1, len(stream)))]
    for _ in range(draw(st.integers(0, 12))):
        if not stream:
            break
        where = draw(st.integers(0, len(stream) - 1))
        action = draw(st.sampled_from(_MUTATIONS))
        if action == "flip":
            stream[where] ^= 1 << draw(st.integers(0, 7))
        elif action == "delete":
            del stream[where : where + draw(st.integers(1, 16))]
        elif action == "insert":
            stream[where:where] = draw(st.binary(min_size=1, max_size=32))
        elif action == "framing":
            stream[where:where] = draw(st.sampled_from(_FRAMING))
        elif action == "splice":
            other = draw(st.sampled_from(captures))
            at = draw(st.integers(0, len(other) - 1))
            stream[where:where] = other[at : at + draw(st.integers(1, 400))]
        else:
            del stream[where:]
    return bytes(stream)


def decoder_inputs(captures: Sequence[bytes]) -> st.SearchStrategy[bytes]:
    return damaged_captures(captures) | st.binary(max_size=2000)


chunk_cuts = st.lists(st.integers(1, 300), min_size=1, max_size=8)

# -- the configuration loader -------------------------------------------------------------------


def _setting_names(cls: type = Settings, prefix: str = "") -> dict[str, list[str]]:
    """Every section of the settings (dotted name, "" for the top) -> its key names."""
    sections: dict[str, list[str]] = {prefix.rstrip("."): []}
    for setting in fields(cls):
        if is_section(setting.type):
            sections.update(_setting_names(setting.type, f"{prefix}{setting.name}."))
        else:
            sections[prefix.rstrip(".")].append(setting.name)
    return sections


SECTION_KEYS = _setting_names()
KEYS = sorted({key for keys in SECTION_KEYS.values() for key in keys})
_VALUE_WORDS = [
    "serial", "replay", "simulator", "auto", "historic", "standard", "sqlite", "mariadb", "none",
    "debug", "info", "127.0.0.1", "::", "10.0.0.0/8", "/dev/serial0", "socket://127.0.0.1:1",
    "/nonexistent", ".", "", "0", "-1", "1e999",
]  # fmt: skip

toml_scalars = (
    st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.booleans()
    | st.sampled_from(_VALUE_WORDS)
    | st.text(max_size=30)
    | st.dates()
    | st.datetimes()
    | st.times()
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner),
    max_leaves=8,
)
any_name = st.text(min_size=1, max_size=12)


def _section_tables(section: str) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    """A table for `section`, its keys mostly the real ones of that section."""
    keys = SECTION_KEYS.get(section, [])
    names = (st.sampled_from(keys) | any_name) if keys else (st.sampled_from(KEYS) | any_name)
    return st.tuples(st.just(section), st.dictionaries(names, toml_values, max_size=6))


toml_documents = st.lists(
    (st.sampled_from(sorted(SECTION_KEYS)) | any_name).flatmap(_section_tables), max_size=5
).map(dict)


def _toml_key(name: str) -> str:
    return json.dumps(name)  # a quoted key: any name, dots included, is one key


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, (int, datetime, date, clock_time)):
        return value.isoformat() if not isinstance(value, int) else str(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON escapes are TOML escapes (lone surrogates are not)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


def render_toml(document: dict[str, dict[str, Any]]) -> str:
    lines: list[str] = []
    for key, value in document.get("", {}).items():
        lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for section, table in document.items():
        if section == "":
            continue
        lines.append("[" + ".".join(_toml_key(part) for part in section.split(".")) + "]")
        lines += [f"{_toml_key(key)} = {_toml_value(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"


config_inputs = (
    toml_documents.map(lambda document: render_toml(document).encode("utf-8", "surrogatepass"))
    | st.text(max_size=400).map(lambda text: text.encode("utf-8", "surrogatepass"))
    | st.binary(max_size=400)
)


def check_config(path: Path, content: bytes) -> bool:
    """Load `content` from `path`; True when it made settings, False for a ConfigError."""
    path.write_bytes(content)
    try:
        settings_ = load_settings(path)
    except ConfigError as error:
        message = str(error)
        assert message.startswith(f"{path}:"), f"the error does not name the file: {message!r}"
        assert "\n" not in message and "\r" not in message, f"not one line: {message!r}"
        return False
    assert isinstance(settings_, Settings)
    return True


# -- the campaign --------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    tried: int = 0
    crashes: int = 0
    test: Callable[[], None] | None = None


def build_targets(round_size: int, workdir: Path) -> list[Target]:
    """The fuzz targets, each a Hypothesis test of `round_size` examples counting its inputs."""
    samples = real_captures()
    budget = settings(
        max_examples=round_size,
        deadline=None,
        database=None,  # fresh examples every round; a crash is printed, not stored
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    decoder, config = Target("decoder (Decoder.feed)"), Target("config loader (load_settings)")

    @budget
    @given(decoder_inputs(samples), chunk_cuts)
    def fuzz_decoder(data: bytes, cuts: list[int]) -> None:
        decoder.tried += 1
        check_decoder(data, cuts)

    @budget
    @given(config_inputs)
    def fuzz_config(content: bytes) -> None:
        config.tried += 1
        check_config(workdir / "teleinforeader.toml", content)

    decoder.test, config.test = fuzz_decoder, fuzz_config
    return [decoder, config]


def run_campaign(seconds: float, round_size: int = 500) -> list[Target]:
    deadline = time.monotonic() + seconds
    with tempfile.TemporaryDirectory() as tmp:
        targets = build_targets(round_size, Path(tmp))
        while time.monotonic() < deadline:
            for target in targets:
                try:
                    target.test()  # type: ignore[misc]
                except Exception:
                    target.crashes += 1
                    print(f"CRASH in {target.name}:", file=sys.stderr)
                    traceback.print_exc()
    return targets


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="time budget (600)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    targets = run_campaign(args.seconds)
    elapsed = time.monotonic() - started
    print(f"fuzz campaign: {elapsed:.0f} s, Python {sys.version.split()[0]}")
    width = max(len(target.name) for target in targets)
    print(f"{'target'.ljust(width)}  {'inputs tried':>12}  {'crashes':>7}")
    for target in targets:
        print(f"{target.name.ljust(width)}  {target.tried:>12,}  {target.crashes:>7}")
    return 1 if any(target.crashes for target in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
