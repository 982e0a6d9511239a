"""Resting between reads while nobody needs a frame at once: one wake-up for several frames.

With no client on the socket server, no browser on the live page and MQTT publishing every few
seconds at most, nothing needs a frame the moment its last byte comes: the database keeps one
every 5 s. The reader then rests for as long as every sink can wait (their `patience`) while the
kernel keeps the bytes, and takes them in one read. What wakes a thread on a Pi Zero costs far
more than decoding the frame it brings (and runs from cold caches): resting shares one wake-up
between the frames of a rest, about four historic ones.

Each frame keeps the time its last byte came. A meter sends frame after frame without a pause
(the TIC gap is 16.7 to 33.4 ms), so a byte followed by n more in the read came n character
times before the read: each frame's age is what followed it. A gap in the line during the rest
(the meter unplugged) makes the frames before it look younger than they are, by that gap at
most: a rest never lasts more than MAX_REST.

A rest is bounded by the line's bytes too: a tty keeps 4096 bytes and drops what comes past
them, so a rest lasts REST_BYTES of the line at most. A sink whose patience drops (a client
connects) wakes the reader through `Source.hurry`; a stop takes what the line holds before
the reader ends, so that resting loses nothing.
"""

from __future__ import annotations

from teleinforeader.sources.frametimer import MASK_7BIT

MAX_REST = 5.0  # seconds: how stale /api/v1/latest or /metrics may be, at worst
REST_BYTES = 2048  # half of a tty's input buffer

_FRAME_ENDS = (0x03, 0x04)  # ETX closes a frame, EOT cuts one short


def rest_seconds(patience: float, seconds_per_byte: float) -> float:
    """How long to rest, for sinks that can wait `patience` seconds, on a line whose
    characters take `seconds_per_byte` each; 0 = read as the bytes come."""
    if patience <= 0:
        return 0.0
    return min(patience, MAX_REST, REST_BYTES * seconds_per_byte)


def aged_pieces(data: bytes, seconds_per_byte: float) -> list[tuple[bytes, float]]:
    """`data`, read at once after a rest, cut after each frame's end, each piece with how long
    ago its last byte came (in seconds; 0 for the last piece)."""
    masked = data.translate(MASK_7BIT)  # a port opened 8N1 keeps the parity bit
    ends = []
    for marker in _FRAME_ENDS:
        found = masked.find(marker)
        while found >= 0:
            ends.append(found + 1)
            found = masked.find(marker, found + 1)
    ends.sort()
    if not ends or ends[-1] != len(data):
        ends.append(len(data))
    pieces = []
    start = 0
    for end in ends:
        pieces.append((data[start:end], (len(data) - end) * seconds_per_byte))
        start = end
    return pieces
