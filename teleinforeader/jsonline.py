"""One frame -> one JSON line: the wire format of the socket server and of `run --print`.

The line keeps what TeleInfoMonitor, the seed's client, reads (`timestamp` in the seed's format,
`frame` as label -> raw value string) and adds what a modern client needs (`time` with its UTC
offset, `mode`, `meter`, the standard-mode horodates, the protocol `version`). docs/protocol.md
is the contract; bump `PROTOCOL_VERSION` when a key changes meaning or disappears.

Speed goal: one line per frame, encoded once, whatever the number of readers; a historic
single-phase line stays under 1024 bytes because TeleInfoMonitor decodes each 1024-byte read.
What a frame's groups need is looked up once: each `"label":"value"` pair is kept encoded (most
groups repeat from frame to frame), and so is each `"label":{"raw":...,"time":...}` horodate,
whose time would otherwise be parsed again; the line is those fragments joined. The text is
byte for byte what `json` writes for the same object (compact separators, ASCII escapes).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

from teleinforeader.record import Record
from teleinforeader.tic.frame import horodate_time

if TYPE_CHECKING:
    from teleinforeader.tic import Frame

PROTOCOL_VERSION = 1
SEED_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

_encode = json.JSONEncoder(separators=(",", ":")).encode
_quote = json.encoder.encode_basestring_ascii  # a JSON string, as the encoder writes it
_MEMO_SIZE = 4096  # encoded fragments kept: hours of a meter's changing values
_pairs: dict[tuple[str, str], str] = {}  # (label, value) -> '"label":"value"'
_horodates: dict[tuple[str, str], str] = {}  # (label, raw) -> '"label":{"raw":..,"time":..}'


class _Encoded(Record):
    """The fragments of the last frame encoded that came from the decoder (its `serial`), and
    where each label's fragment stands: a frame built from it (`follows`) changes only those
    of its `changed` labels."""

    serial: int
    pairs: list[str]
    pair_at: dict[str, int]
    horodates: list[str]
    horodate_at: dict[str, int]


# The last one, replaced whole and never changed: the server's and the printer's threads may
# both encode.
_last: dict[str, _Encoded] = {}


def frame_to_json_line(frame: Frame, now: datetime | None = None) -> bytes:
    """The frame as one compact JSON object, UTF-8, ending with a newline.

    Times are the frame's `received_at` in local time (a naive time is taken as local
    already); a frame never stamped gets `now`, or the current time.
    """
    last = _last.get("frame")
    raw_horodates = frame.raw_horodates
    if last is not None and frame.follows is not None and frame.follows == last.serial:
        pairs, horodates = last.pairs.copy(), last.horodates.copy()
        pair_at, horodate_at = last.pair_at, last.horodate_at
        for label in frame.changed:
            pair = (label, frame[label])
            pairs[pair_at[label]] = _pairs.get(pair) or _pair(pair)
            at = horodate_at.get(label)
            if at is not None:
                pair = (label, raw_horodates[label])
                horodates[at] = _horodates.get(pair) or _horodate(pair)
    else:
        pairs = [_pairs.get(pair) or _pair(pair) for pair in frame.items()]
        horodates = [_horodates.get(pair) or _horodate(pair) for pair in raw_horodates.items()]
        pair_at = horodate_at = {}
        if frame.serial is not None:
            pair_at = {label: at for at, label in enumerate(frame)}
            horodate_at = {label: at for at, label in enumerate(raw_horodates)}
    if frame.serial is not None:
        _last["frame"] = _Encoded(frame.serial, pairs, pair_at, horodates, horodate_at)
    extra = f',"horodates":{{{",".join(horodates)}}}' if horodates else ""
    return _line(frame, ",".join(pairs), extra, now)


def teleinfomonitor_json_line(frame: Frame, now: datetime | None = None) -> bytes:
    """The line of a `[server] teleinfomonitor` listener: `frame` holds the ten labels
    TeleInfoMonitor reads, mapped for any meter (tic/teleinfomonitor.py), and `mapped_from`
    the meter's kind; no horodates (the ten carry none). Under 1024 bytes for every meter."""
    from teleinforeader.tic.teleinfomonitor import seed_frame, seed_values  # when asked for

    kind, values = seed_values(frame)
    pairs = ",".join([_pairs.get(pair) or _pair(pair) for pair in seed_frame(values).items()])
    return _line(frame, pairs, f',"mapped_from":{_quote(kind)}', now)


def _line(frame: Frame, pairs: str, extra: str, now: datetime | None) -> bytes:
    """version, timestamp, time, mode, meter, frame (`pairs`, its "label":"value" joined),
    then `extra`, then rejected: the keys in the order json would write them from the
    documented object."""
    stamp = frame.received_at or now or datetime.now()
    local = stamp.astimezone()
    meter = frame.meter_id
    rejected = f',"rejected":{len(frame.rejected)}' if frame.rejected else ""
    return (
        f'{{"version":{PROTOCOL_VERSION},"timestamp":"{local.strftime(SEED_TIMESTAMP_FORMAT)}",'
        f'"time":"{local.isoformat()}","mode":{_quote(frame.mode)},'
        f'"meter":{"null" if meter is None else _quote(meter)},"frame":{{{pairs}}}'
        f"{extra}{rejected}}}\n"
    ).encode()


def _pair(pair: tuple[str, str]) -> str:
    return _kept(_pairs, pair, f"{_quote(pair[0])}:{_quote(pair[1])}")


def _horodate(pair: tuple[str, str]) -> str:
    label, raw = pair
    time = horodate_time(raw)
    return _kept(_horodates, pair, f'{_quote(label)}:{{"raw":{_quote(raw)},"time":"{time}"}}')


def _kept(memo: dict[tuple[str, str], str], key: tuple[str, str], text: str) -> str:
    """`text`, remembered under `key` in `memo`, which is emptied when full."""
    if len(memo) >= _MEMO_SIZE:
        memo.clear()
    memo[key] = text
    return text


def error_line(error: str, **details: object) -> bytes:
    """A one-line refusal sent before the server closes a connection it will not serve."""
    return (_encode({"version": PROTOCOL_VERSION, "error": error, **details}) + "\n").encode()
