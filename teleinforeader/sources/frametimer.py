"""When to read next: once for each frame, instead of once for every byte that comes.

A UART hands bytes over one by one (16 at a time with a FIFO), a USB adapter every 16 ms: reading
each arrival wakes the reader a hundred times a frame, and on a Pi Zero's single core the
wake-ups cost far more than decoding. The line's own timing says when the rest of a frame will be
in: a meter's frames keep their length, and each byte takes 10 bits at the line's speed. So after
a read that leaves a frame open, the reader sleeps for the bytes still to come (the length of the
last complete frame minus what came) and a margin, then takes the rest in one read.

Frames follow one another with a silence of 16.7 to 33.4 ms between them (TIC.md). So after a
read that ends a frame with its ETX, the next frame will be whole no sooner than a frame's
length and the shortest silence later: the reader sleeps that long (counted from the read), and
one read takes the next frame whole, one wake-up a frame, whatever the arrival pattern. Each
such sleep ends a little earlier against the line than the last, since the silence is longer
than it counts, until one finds a frame still open: its rest is then due within the silences'
spread (EARLY_AT_MOST), however many bytes the port holds back, and the sleep for it puts the
reader back after the frame's end. So a frame reaches the sinks at most that spread and a
margin after its last byte, and the reader wakes a little more than once a frame. A line whose
frames are further apart (a meter or an adapter that pauses between them) makes such a sleep
find nothing, or a frame still open after the spread, and a port that brings more than its
speed allows (a pty) brings several frames: the timer then stops looking ahead, and the reader
blocks between frames until the next byte (two wake-ups a frame) until the port is opened
again. So it does after an EOT, which says nothing of when the next frame begins.

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
# The silence between two frames (TIC.md gives 16.7 to 33.4 ms in standard mode, and no figure
# for historic mode, whose meters send frame after frame the same way).
SHORTEST_SILENCE, LONGEST_SILENCE = 0.0167, 0.0334
# What a sleep for the next frame counts between two frames: less than the shortest silence, by
# enough that each such sleep ends a little earlier against the line, whatever the sleeps
# overshoot, so that one finds the frame still open within a few frames (see the docstring).
FRAME_GAP = SHORTEST_SILENCE - 0.004
# ... and how early that one can be, on a steady line: the rest of its frame is due by then,
# however many of its bytes the port still held back (a FIFO's 16, a USB packet's 64).
EARLY_AT_MOST = LONGEST_SILENCE - FRAME_GAP
MAX_FRAME_SECONDS = 3.0  # the longest frame a meter sends (historic Tempo, 275 bytes: 2.3 s)

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
        self._ended = False  # the last read ended a frame with its ETX, nothing after it
        self._looking_ahead = True  # sleep for the next frame after an ETX (until one found none)
        self._early = False  # the open frame was found open by a sleep for the whole of it

    def restart(self, seconds_per_byte: float | None) -> None:
        """The port was reopened: no frame is open. A new speed forgets the frame length."""
        if seconds_per_byte != self._seconds_per_byte:
            self._seconds_per_byte = seconds_per_byte
            self._length = 0
        self.stalled()
        self._looking_ahead = True

    def stalled(self) -> None:
        """Nothing came for a whole pause: wait for the line's next byte instead of guessing.
        After a sleep for the next frame, the line has gaps between frames: no more of those."""
        if self._ended:
            self._looking_ahead = False
        self._open = False
        self._ended = False
        self._early = False
        self._received = 0

    def seen(self, data: bytes) -> None:
        """Follow the framing bytes of `data`, just read."""
        foreseen = self._foreseeing()
        masked = data.translate(MASK_7BIT)
        start = masked.rfind(_STX)
        end = max(masked.rfind(_ETX), masked.rfind(_EOT))
        guessing = self._seconds_per_byte is None
        closed = end >= 0 and masked[end] == _ETX[0]  # a frame ended with its ETX
        if closed:  # a complete frame: the next one's length
            begun = masked.rfind(_STX, 0, end)
            if begun >= 0:
                self._length = end - begun + 1
            elif self._open:
                self._length = self._received + end + 1
            if guessing:
                body = masked[max(begun, 0) : end]
                self._standard = _HT in body or (begun < 0 and self._tabs)
        self._ended = closed and start < end and end == len(masked) - 1
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
        unended = self._open and end < 0  # a frame is open, and this read ended none
        if self._early and unended:  # not done within the spread: irregular
            self._looking_ahead = False
        if foreseen and masked.count(_ETX) > 1:  # more than a frame in a frame's time (a pty)
            self._looking_ahead = False
        self._early = foreseen and unended  # not late: no frame ended before

    def pause(self) -> float:
        """Seconds to wait before the next read, which then takes what came; 0 = read at once,
        blocking until the next byte (between frames, when the next one cannot be foreseen)."""
        if self._foreseeing():
            return min(self._length * self._per_byte() + FRAME_GAP, MAX_FRAME_SECONDS)
        if not self._open:
            return 0.0
        per_byte = self._per_byte()
        rest = self._length - self._received
        if rest > 0:
            seconds = (rest + MARGIN_BYTES) * per_byte + MARGIN_SECONDS
            if self._early:  # the port holds back the rest until the frame's end, soon now
                seconds = min(seconds, EARLY_AT_MOST + MARGIN_BYTES * per_byte + MARGIN_SECONDS)
        elif self._length:
            seconds = max(TOPUP_BYTES * per_byte, MIN_TOPUP)
        else:
            seconds = max(self._received * per_byte, MIN_TOPUP)
        return min(seconds, MAX_PAUSE)

    def _foreseeing(self) -> bool:
        """Between frames, once a read ended one with its ETX: the next is due whole."""
        return not self._open and self._ended and self._looking_ahead and self._length > 0

    def _per_byte(self) -> float:
        per_byte = self._seconds_per_byte
        if per_byte is None:
            per_byte = byte_seconds(STANDARD_BAUD if self._standard else HISTORIC_BAUD)
        return per_byte
