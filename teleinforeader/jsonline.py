"""One frame -> one JSON line: the wire format of the socket server and of `run --print`.

The line keeps what TeleInfoMonitor, the seed's client, reads (`timestamp` in the seed's format,
`frame` as label -> raw value string) and adds what a modern client needs (`time` with its UTC
offset, `mode`, `meter`, the standard-mode horodates, the protocol `version`). docs/protocol.md
is the contract; bump `PROTOCOL_VERSION` when a key changes meaning or disappears.

Speed goal: one line per frame, encoded once, whatever the number of readers; a historic
single-phase line stays under 1024 bytes because TeleInfoMonitor decodes each 1024-byte read.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

from teleinforeader.tic.teleinfomonitor import seed_frame, seed_values

if TYPE_CHECKING:
    from teleinforeader.tic import Frame

PROTOCOL_VERSION = 1
SEED_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

_encode = json.JSONEncoder(separators=(",", ":")).encode


def frame_to_json_line(frame: Frame, now: datetime | None = None) -> bytes:
    """The frame as one compact JSON object, UTF-8, ending with a newline.

    Times are the frame's `received_at` in local time (a naive time is taken as local
    already); a frame never stamped gets `now`, or the current time.
    """
    message = _message(frame, dict(frame), now)
    raw_horodates = frame.raw_horodates
    if raw_horodates:
        message["horodates"] = {
            label: {"raw": horodate.raw, "time": horodate.time.isoformat()}
            for label, horodate in frame.horodates.items()
        }
    return _line(message, frame)


def teleinfomonitor_json_line(frame: Frame, now: datetime | None = None) -> bytes:
    """The line of a `[server] teleinfomonitor` listener: `frame` holds the ten labels
    TeleInfoMonitor reads, mapped for any meter (tic/teleinfomonitor.py), and `mapped_from`
    the meter's kind; no horodates (the ten carry none). Under 1024 bytes for every meter."""
    kind, values = seed_values(frame)
    message = _message(frame, seed_frame(values), now)
    message["mapped_from"] = kind
    return _line(message, frame)


def _message(frame: Frame, groups: dict[str, str], now: datetime | None) -> dict[str, object]:
    stamp = frame.received_at or now or datetime.now()
    local = stamp.astimezone()
    return {
        "version": PROTOCOL_VERSION,
        "timestamp": local.strftime(SEED_TIMESTAMP_FORMAT),
        "time": local.isoformat(),
        "mode": frame.mode,
        "meter": frame.meter_id,
        "frame": groups,
    }


def _line(message: dict[str, object], frame: Frame) -> bytes:
    if frame.rejected:
        message["rejected"] = len(frame.rejected)
    return (_encode(message) + "\n").encode()


def error_line(error: str, **details: object) -> bytes:
    """A one-line refusal sent before the server closes a connection it will not serve."""
    return (_encode({"version": PROTOCOL_VERSION, "error": error, **details}) + "\n").encode()
