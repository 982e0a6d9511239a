"""Captures made through a cooked tty, turned back into the bytes a meter sends.

Users test their line, and make bug reports, with `stty -F /dev/ttyAMA0 1200 sane evenp parenb
cs7 -crtscts; cat /dev/ttyAMA0 > capture`. A tty set up that way reads every CR as LF (icrnl)
and takes ETX for ^C and EOT for ^D, which it drops; STX goes through. A group `LF label ... CR`
arrives as `LF label ... LF`, and a frame has no end but the next frame's STX.

`CookedRepair` rebuilds what can be rebuilt and nothing more: each line becomes `LF line CR`,
each STX closes the frame before it with an ETX and opens the next one; the decoder then checks
every group's checksum and format as for any capture. A frame the meter cut short (its EOT
was dropped too) comes out with the groups it had: each is as the meter sent it, checksum
good, and a group the cut split fails its checksum and is counted. The last frame of the file,
which nothing closes, is ended with an EOT: the decoder counts it as interrupted.
"""

from __future__ import annotations

_STX, _ETX, _EOT = b"\x02", b"\x03", b"\x04"


def is_cooked(head: bytes) -> bool:
    """Does the start of a capture look cooked: frames and lines, but never a CR nor an ETX?

    A raw capture ends every group with CR; one that lost its CR another way (a text rendering)
    has no STX either, and is left alone."""
    return _STX in head and b"\n" in head and b"\r" not in head and _ETX not in head


class CookedRepair:
    """Streams a cooked capture back into wire bytes, chunk by chunk (see the module doc)."""

    def __init__(self) -> None:
        self._line = b""  # the unfinished line of the last chunk
        self._in_frame = False

    def feed(self, chunk: bytes) -> bytes:
        lines = (self._line + chunk).split(b"\n")
        self._line = lines.pop()
        return b"".join(self._repair(line) for line in lines)

    def end(self) -> bytes:
        """The rest of the capture: its unfinished line, then an EOT for its last frame."""
        tail = self._repair(self._line)
        self._line = b""
        if self._in_frame:
            tail += _EOT
            self._in_frame = False
        return tail

    def _repair(self, line: bytes) -> bytes:
        pieces = line.split(_STX)
        out = [self._group(pieces[0])]
        for piece in pieces[1:]:
            out.append(_ETX + _STX if self._in_frame else _STX)
            self._in_frame = True
            out.append(self._group(piece))
        return b"".join(out)

    def _group(self, text: bytes) -> bytes:
        if not text:  # the empty line between a group's end (was CR) and the next one's LF
            return b""
        return b"\n" + text + b"\r" if self._in_frame else text + b"\n"
