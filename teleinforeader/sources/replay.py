"""Replay a file of raw captured TIC bytes as if a meter were sending them.

For demos, tests, benchmarks and bug reports: a capture recorded on one Pi (`teleinforeader
record`) plays back anywhere, through the same decoder and sinks as a live line. The file is
streamed, never loaded whole, so a day of capture costs no memory. A capture made through a
cooked tty (CR read as LF, ETX and EOT dropped: see `sources.cooked`) is repaired on the way.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Generator
from pathlib import Path

from teleinforeader.sources.cooked import CookedRepair, is_cooked
from teleinforeader.sources.pacing import (
    HISTORIC_BAUD,
    STANDARD_BAUD,
    PacedSource,
)

log = logging.getLogger(__name__)

_SNIFF_BYTES = 64 * 1024
EOT = b"\x04"  # what a meter sends when it cuts a frame short


def _head(path: str | os.PathLike[str]) -> bytes:
    with open(path, "rb") as capture:
        return capture.read(_SNIFF_BYTES)


def guess_baud(path: str | os.PathLike[str]) -> int:
    """9600 for a standard-mode capture (more HT than LF, as the decoder decides), else 1200.

    A cooked capture has two LF a group: standard mode still has more HT (two or three)."""
    head = _head(path)
    line_feeds = head.count(b"\n") // (2 if is_cooked(head) else 1)
    return STANDARD_BAUD if head.count(b"\t") > line_feeds else HISTORIC_BAUD


class ReplaySource(PacedSource):
    """Plays `path` at `speed` x the line pace (0 = as fast as possible), once or in a loop.

    `baud` is the line the capture came from; by default it is guessed from its content.
    `run` returns at the end of the file unless `loop` is set; passes are separated by an EOT.
    """

    name = "replay"

    def __init__(
        self,
        path: str | os.PathLike[str],
        speed: float = 1.0,
        loop: bool = False,
        baud: int | None = None,
        chunk_size: int | None = None,
    ) -> None:
        self.path = Path(path)
        try:
            size = self.path.stat().st_size
        except OSError as exc:
            raise ValueError(f"replay file {self.path}: {exc.strerror}") from None
        if not self.path.is_file():
            raise ValueError(f"replay file {self.path} is not a regular file")
        if size == 0 and loop:
            raise ValueError(f"replay file {self.path} is empty: nothing to loop over")
        super().__init__(baud or guess_baud(self.path), speed, chunk_size)
        self.loop = loop
        self.cooked = is_cooked(_head(self.path))
        self._passes = 0

    def describe(self) -> str:
        looping = ", looping" if self.loop else ""
        cooked = ", made through a cooked tty: lines taken as groups" if self.cooked else ""
        return f"replay of {self.path} ({self.baud} baud, {self.pace}{looping}{cooked})"

    def chunks(self) -> Generator[bytes, None, None]:
        repair = CookedRepair() if self.cooked else None
        with open(self.path, "rb") as capture:
            while True:
                chunk = capture.read(self.chunk_size)
                if chunk:
                    yield chunk if repair is None else repair.feed(chunk)
                    continue
                self._passes += 1
                if repair is not None:
                    yield repair.end()
                if not self.loop or capture.tell() == 0:  # emptied since we checked
                    return
                # The file's end and start are not one stream: an EOT makes the decoder drop
                # the frame cut at the end instead of gluing it to the bytes of the start
                # (the repair of a cooked capture ends with one).
                if repair is None:
                    yield EOT
                capture.seek(0)

    def counters(self) -> dict[str, int]:
        return {**super().counters(), "passes": self._passes}
