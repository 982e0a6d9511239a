"""The JSON line of a frame: the keys TeleInfoMonitor reads, the ones a modern client needs."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from itertools import islice

import pytest

from teleinforeader.jsonline import (
    PROTOCOL_VERSION,
    error_line,
    frame_to_json_line,
    teleinfomonitor_json_line,
)
from teleinforeader.sources.simulator import Simulator
from teleinforeader.tic import Frame, decode, encode_frame
from teleinforeader.tic.frame import Horodate, horodate_time
from teleinforeader.tic.teleinfomonitor import seed_frame, seed_values
from tests.server.server_helpers import (
    DATA,
    HISTORIC_BASE,
    SHARED_CAPTURES,
    capture_frames,
    historic_frame,
)

SEED_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")
TELEINFOMONITOR_NUMBERS = ("ISOUSC", "BASE", "IINST", "IMAX", "PAPP")


def single_phase(option: str, before_period: dict, period: str, after_period: dict) -> dict:
    """A single-phase historic frame of tariff `option`, every value at its full width."""
    return {
        "ADCO": "021861348497",
        "OPTARIF": option,
        "ISOUSC": "60",
        **before_period,
        "PTEC": period,
        **after_period,
        "IINST": "059",
        "ADPS": "061",
        "IMAX": "090",
        "PAPP": "13900",
        "HHPHC": "A",
        "MOTDETAT": "000000",
    }


TEMPO_INDEXES = ("BBRHCJB", "BBRHPJB", "BBRHCJW", "BBRHPJW", "BBRHCJR", "BBRHPJR")
HISTORIC_SINGLE_PHASE = {
    "BASE": HISTORIC_BASE,
    "HC": single_phase("HC..", {"HCHC": "123456789", "HCHP": "987654321"}, "HP..", {}),
    "EJP": single_phase(
        "EJP.", {"EJPHN": "123456789", "EJPHPM": "987654321", "PEJP": "30"}, "PM..", {}
    ),
    "Tempo": single_phase(
        "BBR(", dict.fromkeys(TEMPO_INDEXES, "123456789"), "HPJR", {"DEMAIN": "ROUG"}
    ),
}


def test_historic_line_has_teleinfomonitor_keys_and_modern_ones() -> None:
    received_at = datetime(2026, 1, 15, 8, 30, 5, 120000, tzinfo=timezone.utc)
    line = frame_to_json_line(historic_frame(8735124, received_at))
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    message = json.loads(line)
    assert message["frame"] == dict(HISTORIC_BASE, BASE="008735124")
    assert list(message["frame"]) == list(HISTORIC_BASE)  # the meter's order
    assert message["version"] == PROTOCOL_VERSION
    assert message["mode"] == "historic"
    assert message["meter"] == "021861348497"
    local = received_at.astimezone()
    assert message["timestamp"] == local.strftime("%Y-%m-%d %H:%M:%S.%f")
    assert SEED_TIMESTAMP.match(message["timestamp"])
    assert datetime.fromisoformat(message["time"]) == received_at
    assert datetime.fromisoformat(message["time"]).utcoffset() == local.utcoffset()
    assert "horodates" not in message and "rejected" not in message


def test_naive_receive_time_is_local_time() -> None:
    received_at = datetime(2026, 7, 1, 12, 0, 0)  # microsecond 0: the seed's str() dropped it
    message = json.loads(frame_to_json_line(historic_frame(1, received_at)))
    assert message["timestamp"] == "2026-07-01 12:00:00.000000"
    assert datetime.fromisoformat(message["time"]) == received_at.astimezone()


def test_unstamped_frame_gets_the_given_or_current_time() -> None:
    (frame,) = decode(encode_frame(HISTORIC_BASE, "historic"))
    assert frame.received_at is None
    now = datetime(2026, 3, 1, 10, 0, 0, 1, tzinfo=timezone(timedelta(hours=1)))
    assert json.loads(frame_to_json_line(frame, now))["time"] == now.astimezone().isoformat()
    before = datetime.now().astimezone()
    stamped = datetime.fromisoformat(json.loads(frame_to_json_line(frame))["time"])
    assert before <= stamped <= datetime.now().astimezone()


def test_standard_line_carries_horodates() -> None:
    (frame,) = capture_frames("standard-mono-enedis-TIC2WebSocket.bin")
    message = json.loads(frame_to_json_line(frame))
    assert message["mode"] == "standard"
    assert message["meter"] == frame["ADSC"]
    assert message["frame"] == dict(frame)
    assert message["horodates"]["DATE"] == {
        "raw": "E170915101601",
        "time": "2017-09-15T10:16:01+02:00",
    }
    assert set(message["horodates"]) == set(frame.raw_horodates)


def test_rejected_groups_are_counted() -> None:
    wire = encode_frame(HISTORIC_BASE, "historic").replace(b"PAPP 02380 .", b"PAPP 02380 X")
    (frame,) = decode(wire)
    message = json.loads(frame_to_json_line(frame))
    assert message["rejected"] == 1
    assert "PAPP" not in message["frame"]


@pytest.mark.parametrize("option", sorted(HISTORIC_SINGLE_PHASE))
def test_historic_single_phase_line_fits_one_teleinfomonitor_read(option: str) -> None:
    (frame,) = decode(encode_frame(HISTORIC_SINGLE_PHASE[option], "historic"))
    line = frame_to_json_line(frame, datetime.now())
    assert len(line) <= 1024
    message = json.loads(line)
    numbers = [label for label in TELEINFOMONITOR_NUMBERS if label in HISTORIC_SINGLE_PHASE[option]]
    assert len(numbers) >= 4
    for label in numbers:
        int(message["frame"][label])


def test_every_captured_historic_line_fits_one_read() -> None:
    lengths = {
        name: [len(frame_to_json_line(frame)) for frame in capture_frames(name)]
        for name in sorted(path.name for path in DATA.glob("historic-*.bin"))
    }
    assert sum(map(len, lengths.values())) >= 10, f"too few historic frames in {DATA}"
    for name, sizes in lengths.items():
        assert max(sizes, default=0) <= 1024, name


def reference_line(frame: Frame, teleinfomonitor: bool = False) -> bytes:
    """The line as the json module writes the documented object (docs/protocol.md)."""
    local = frame.received_at.astimezone()  # type: ignore[union-attr]
    message: dict = {
        "version": PROTOCOL_VERSION,
        "timestamp": local.strftime("%Y-%m-%d %H:%M:%S.%f"),
        "time": local.isoformat(),
        "mode": frame.mode,
        "meter": frame.meter_id,
        "frame": dict(frame),
    }
    if teleinfomonitor:
        kind, values = seed_values(frame)
        message["frame"] = seed_frame(values)
        message["mapped_from"] = kind
    elif frame.raw_horodates:
        message["horodates"] = {
            label: {"raw": horodate.raw, "time": horodate.time.isoformat()}
            for label, horodate in frame.horodates.items()
        }
    if frame.rejected:
        message["rejected"] = len(frame.rejected)
    return (json.dumps(message, separators=(",", ":")) + "\n").encode()


def test_lines_are_byte_for_byte_what_json_writes() -> None:
    """The line is built from fragments kept per group: the same bytes as json.dumps, for every
    captured frame (both modes, rejected groups, unknown labels), escapes and all, and so is
    the TeleInfoMonitor listener's line."""
    received_at = datetime(2026, 7, 14, 9, 30, tzinfo=timezone.utc)
    paths = sorted(DATA.glob("*.bin")) + sorted(SHARED_CAPTURES.glob("*.bin"))
    frames = [
        frame for path in paths for frame in decode(path.read_bytes(), received_at=received_at)
    ]
    frames += decode(
        encode_frame({**HISTORIC_BASE, "FUTUR": "12"}, "historic"), received_at=received_at
    )
    # The project's own captures at least (the shared folder adds the others when present).
    assert len(frames) > len(paths) and {frame.mode for frame in frames} == {"historic", "standard"}
    assert any(frame.rejected for frame in frames) and any(frame.unknown for frame in frames)
    odd = Frame({"ADCO": "02", 'Q"\\': 'a"b\\c\té'}, "historic", received_at)
    no_meter = Frame({"PAPP": "00120"}, "historic", received_at)
    for frame in [*frames, *frames, odd, no_meter]:  # twice: the second time from the fragments
        assert frame_to_json_line(frame) == reference_line(frame)
    for frame in frames:
        assert teleinfomonitor_json_line(frame) == reference_line(frame, teleinfomonitor=True)


@pytest.mark.parametrize(
    "raw",
    ["H261202051912", "E260714093000", "h000101000000", "e991231235959", " 240229120000"],
)
def test_a_horodate_time_is_the_isoformat_of_its_parsed_time(raw: str) -> None:
    assert horodate_time(raw) == Horodate.parse(raw).time.isoformat()


@pytest.mark.parametrize("profile", ["historic-tempo", "standard-tri", "standard-producer"])
def test_a_line_built_from_the_previous_frames_fragments_is_what_json_writes(profile) -> None:
    """A frame the decoder built from the one before it gets its line from that frame's kept
    fragments, its changed groups put in: the same bytes as json.dumps, whether each frame
    follows the one encoded before it, a frame in between was skipped, or one was changed
    (a frame the guard took a group from has no such lineage)."""
    received_at = datetime(2026, 7, 14, 9, 30, tzinfo=timezone.utc)
    frames = decode(b"".join(islice(Simulator(profile).frames(), 120)), received_at=received_at)
    assert len(frames) == 120 and all(frame.follows is not None for frame in frames[1:])
    assert sum(len(frame.changed) for frame in frames) > len(frames)  # values move
    for index, decoded in enumerate(frames):
        if index % 7 == 3:  # not encoded: the next frame follows one that was not
            continue
        frame = decoded
        if index % 11 == 5:
            frame = Frame(dict(list(decoded.items())[1:]), decoded.mode, received_at)
        assert frame_to_json_line(frame) == reference_line(frame)


def test_error_line() -> None:
    line = error_line("too many clients", max_clients=32)
    assert line.endswith(b"\n")
    assert json.loads(line) == {
        "version": PROTOCOL_VERSION,
        "error": "too many clients",
        "max_clients": 32,
    }
