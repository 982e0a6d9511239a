"""Play bytes at the pace of a real TIC line, for the sources that make up their bytes.

A replayed capture and the simulated meter must reach the decoder the way a serial driver hands
bytes over: in small chunks, each one when its last byte would have arrived (7E1 = 10 bits a
byte). The schedule is absolute (start + bytes sent x seconds per byte), so a slow consumer
makes the source catch up instead of drifting. Waiting is an `Event.wait`, so `stop()` ends a
wait at once and an idle source uses no CPU.
"""

from __future__ import annotations

import abc
import logging
import threading
import time
from collections.abc import Generator, Iterable, Iterator, Mapping

from teleinforeader.sources.base import ReaderProtocol, Source
from teleinforeader.tic.labels import HISTORIC, STANDARD

log = logging.getLogger(__name__)

BITS_PER_BYTE = 10  # start bit, 7 data bits, parity, stop bit
HISTORIC_BAUD = 1200
STANDARD_BAUD = 9600
BAUD_OF_MODE = {HISTORIC: HISTORIC_BAUD, STANDARD: STANDARD_BAUD}
# A UART's receive FIFO typically hands the driver 16 bytes at a time; when pacing does not
# matter (speed 0) bigger chunks cost less per byte. What a chunk costs besides its frames (the
# read, the stamps, the hand-off, a client's wake-up) is shared by its frames, but all of them
# are alive at once: a chunk holds a minute of the line, about fifty frames in either mode (a
# standard frame is eight times a historic one, sent eight times as fast).
PACED_CHUNK = 16
FAST_SECONDS = 60


def fast_chunk(baud: int) -> int:
    """The bytes a source at full speed hands over at a time: FAST_SECONDS of a line at `baud`
    (57,600 at 9600 baud, 7,200 at 1200)."""
    return FAST_SECONDS * baud // BITS_PER_BYTE


def line_seconds(nbytes: int, baud: int, speed: float) -> float:
    """How long `nbytes` take on the line at `baud`, played `speed` times faster (0: no time)."""
    if speed == 0:
        return 0.0
    return nbytes * BITS_PER_BYTE / baud / speed


def check_speed(speed: float) -> float:
    if speed < 0:
        raise ValueError(f"source.speed must be 0 (as fast as possible) or positive, not {speed}")
    return float(speed)


def chunked(pieces: Iterable[bytes], size: int) -> Iterator[bytes]:
    """Re-cut a stream of byte strings into chunks of at most `size` bytes."""
    for piece in pieces:
        for start in range(0, len(piece), size):
            yield piece[start : start + size]


def schedule(chunks: Iterable[bytes], baud: int, speed: float) -> Iterator[tuple[float, bytes]]:
    """(seconds after the start when the chunk is complete on the line, chunk)."""
    sent = 0
    for chunk in chunks:
        sent += len(chunk)
        yield line_seconds(sent, baud, speed), chunk


class PacedSource(Source):
    """A source that plays generated chunks on a line-paced schedule until they run out."""

    pausable = True

    def __init__(self, baud: int, speed: float, chunk_size: int | None) -> None:
        self.baud = baud
        self.speed = check_speed(speed)
        self.chunk_size = chunk_size or (fast_chunk(baud) if self.speed == 0 else PACED_CHUNK)
        self._stop = threading.Event()
        self._running = threading.Event()
        self._bytes = 0
        self._frames = 0

    @abc.abstractmethod
    def describe(self) -> str:
        """What `connection_made` announces."""

    @property
    def pace(self) -> str:
        return "as fast as possible" if self.speed == 0 else f"{self.speed:g}x line pace"

    @abc.abstractmethod
    def chunks(self) -> Generator[bytes, None, None]:
        """The bytes to play, cut to `chunk_size`; may be endless."""

    def run(self, protocol: ReaderProtocol) -> None:
        protocol.connection_made(self.describe())
        self._running.set()
        error: Exception | None = None
        try:
            self._play(protocol)
        except OSError as exc:  # a replayed file that became unreadable
            log.error("%s: %s", self.describe(), exc)
            error = exc
        finally:
            self._running.clear()
            protocol.connection_lost(error)

    def _play(self, protocol: ReaderProtocol) -> None:
        chunks = self.chunks()
        started = time.monotonic()
        try:
            for due, chunk in schedule(chunks, self.baud, self.speed):
                if self._stop.is_set():
                    return
                delay = started + due - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
                self._bytes += len(chunk)
                self._frames += protocol.data_received(chunk)
        finally:
            chunks.close()  # a replayed file is closed now, not when collected

    def stop(self) -> None:
        self._stop.set()

    @property
    def ready(self) -> bool:
        return self._running.is_set()

    def counters(self) -> Mapping[str, int]:
        return {"bytes": self._bytes, "frames": self._frames}
