"""When to read next: once for the rest of a frame, instead of once for every byte that comes.

A UART hands bytes over one by one (16 at a time with a FIFO), a USB adapter every 16 ms: reading
each arrival wakes the reader a hundred times a frame, and on a Pi Zero's single core the
wake-ups cost far more than decoding. The line's own timing says when the rest of a frame will be
in: a meter's frames keep their length, and each byte takes 10 bits at the line's speed. So after
a read that leaves a frame open, the reader sleeps for the bytes still to come (the length of the
last complete frame minus what came) and a margin, then takes the rest in one read. Between
frames (after ETX or EOT) it blocks until the next byte, the start of the next frame: two
wake-ups a frame, whatever the arrival pattern.

A frame longer than the last one, a line slower than its speed (gaps between groups), or the
first frame after a start (no length known yet) costs a few more wake-ups: short top-ups, then
the length is learnt again. Only the framing bytes are looked at (STX, ETX, EOT, with or without
the parity bit of a port opened 8N1): nothing is decoded here, and a wrong guess costs a little
time, never data, since every byte still reaches the decoder in order.
"""

from __future__ import annotations

from teleinforeader.sources.pacing import BITS_PER_BYTE, HISTORIC_BAUD, STANDARD_BAUD

# After the rest of a frame is due: a UART's receive timeout (4 characters) and a USB adapter's
# latency timer (16 ms), which both hand the last bytes of a frame over only after them.
MARGIN_BYTES = 4
MARGIN_SECONDS = 0.016
# When more bytes came than the last frame had (or no frame length is known yet), the next look:
# at least TOPUP_BYTES later, or what came so far once more while the length is unknown.
TOPUP_BYTES = 8
MIN_TOPUP = 0.016  # seconds
MAX_PAUSE = 2.0  # seconds: a wrong length never leaves the reader asleep for long

MASK_7BIT = bytes(range(128)) * 2  # bytes.translate table: drops the parity bit of 8N1
_STX, _ETX, _EOT, _HT = b"\x02", b"\x03", b"\x04", b"\t"


def byte_seconds(baud: int) -> float:
    """How long one character takes on the line (start bit, 7 data bits, parity, stop bit)."""
    return BITS_PER_BYTE / baud


class FrameTimer:
    """Follows the framing bytes of what is read, and says how long to wait before reading again.

    `seconds_per_byte` is the line's; None when the far end sets the speed (socket://): it is then
    guessed from the frames, standard (9600 baud) when they separate fields with tabs, historic
    (1200) otherwise.
    """

    def __init__(self, seconds_per_byte: float | None = None) -> None:
        self._seconds_per_byte = seconds_per_byte
        self._open = False  # a frame has begun (STX) and not ended (ETX, EOT)
        self._received = 0  # bytes of the open frame so far, its STX included
        self._length = 0  # bytes of the last complete frame, STX to ETX; 0 = unknown
        self._tabs = False  # the open frame holds a tab (standard mode)
        self._standard = False  # the last complete frame did

    def restart(self, seconds_per_byte: float | None) -> None:
        """The port was reopened: no frame is open. A new speed forgets the frame length."""
        if seconds_per_byte != self._seconds_per_byte:
            self._seconds_per_byte = seconds_per_byte
            self._length = 0
        self.stalled()

    def stalled(self) -> None:
        """Nothing came for a whole pause: wait for the line's next byte instead of guessing."""
        self._open = False
        self._received = 0

    def seen(self, data: bytes) -> None:
        """Follow the framing bytes of `data`, just read."""
        masked = data.translate(MASK_7BIT)
        start = masked.rfind(_STX)
        end = max(masked.rfind(_ETX), masked.rfind(_EOT))
        guessing = self._seconds_per_byte is None
        if end >= 0 and masked[end] == _ETX[0]:  # a complete frame: the next one's length
            begun = masked.rfind(_STX, 0, end)
            if begun >= 0:
                self._length = end - begun + 1
            elif self._open:
                self._length = self._received + end + 1
            if guessing:
                body = masked[max(begun, 0) : end]
                self._standard = _HT in body or (begun < 0 and self._tabs)
        if start > end:  # a frame begins, and does not end in this chunk
            self._open = True
            self._received = len(data) - start
            if guessing:
                self._tabs = _HT in masked[start:]
        elif end >= 0:
            self._open = False
        elif self._open:
            self._received += len(data)
            if guessing:
                self._tabs = self._tabs or _HT in masked

    def pause(self) -> float:
        """Seconds to wait before the next read, which then takes what came; 0 = read at once,
        blocking until the next byte (between frames)."""
        if not self._open:
            return 0.0
        per_byte = self._seconds_per_byte
        if per_byte is None:
            per_byte = byte_seconds(STANDARD_BAUD if self._standard else HISTORIC_BAUD)
        rest = self._length - self._received
        if rest > 0:
            seconds = (rest + MARGIN_BYTES) * per_byte + MARGIN_SECONDS
        elif self._length:
            seconds = max(TOPUP_BYTES * per_byte, MIN_TOPUP)
        else:
            seconds = max(self._received * per_byte, MIN_TOPUP)
        return min(seconds, MAX_PAUSE)
