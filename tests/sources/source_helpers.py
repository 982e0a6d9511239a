"""Helpers shared by the source tests: a protocol that decodes what it receives, like the daemon."""

from __future__ import annotations

import contextlib
import os
import termios
import threading
from typing import Callable

from teleinforeader.tic import Decoder, encode_frame
from tests.support.captures import historic_frame
from tests.support.waiting import wait_for

__all__ = [
    "DecodingProtocol",
    "PtyMeter",
    "SourceThread",
    "historic_frame",
    "standard_frame",
    "wait_for",
]


class DecodingProtocol:
    """Feeds a real decoder and records every callback, with events tests can wait on."""

    def __init__(self, mode: str = "auto") -> None:
        self.decoder = Decoder(mode)
        self.frames: list = []
        self.chunks: list[bytes] = []
        self.connections: list[str] = []
        self.losses: list[Exception | None] = []
        self.lock = threading.Lock()

    def connection_made(self, description: str) -> None:
        with self.lock:
            self.connections.append(description)
            self.decoder.reset()

    def data_received(self, data: bytes) -> int:
        with self.lock:
            self.chunks.append(data)
            frames = self.decoder.feed(data)
            self.frames.extend(frames)
            return len(frames)

    def connection_lost(self, error: Exception | None) -> None:
        with self.lock:
            self.losses.append(error)


class SourceThread:
    """Runs a source in a reader thread, as the daemon does, and joins it at the end."""

    def __init__(self, source, protocol) -> None:
        self.source = source
        self.thread = threading.Thread(target=source.run, args=(protocol,), daemon=True)

    def __enter__(self) -> SourceThread:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.source.stop()
        self.thread.join(10)
        assert not self.thread.is_alive(), "run() did not return after stop()"


def standard_frame(index: int = 1234567) -> bytes:
    return encode_frame(
        [
            ("ADSC", "041776123456"),
            ("VTIC", "02"),
            ("DATE", "H261126120000", ""),
            ("EAST", f"{index:09d}"),
            ("IRMS1", "002"),
            ("URMS1", "231"),
            ("SINSTS", "00420"),
            ("STGE", "013A0001"),
        ],
        "standard",
    )


class PtyMeter:
    """A meter on the master side of a pty; the source opens the slave path.

    A pty carries no real line speed, but the speed the reader set is visible from the master,
    so the meter sends its frames only when the reader listens at `baud` and garbage otherwise,
    as a UART at the wrong speed would deliver. `baud=None` sends frames whatever the speed.
    `frame` and `baud` may be changed while it runs: the meter switched to the other mode.
    """

    GARBAGE = bytes(range(0x80, 0x100))  # wrong-speed bytes: no STX, nothing decodable

    def __init__(self, frame: Callable[[int], bytes], baud: int | None, period: float = 0.02):
        import tty

        self.frame, self.baud, self.period = frame, baud, period
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # no echo back into the master while nobody has it open
        os.set_blocking(self.master, False)  # a full input queue must not block the meter
        self.path = os.ttyname(self.slave)
        self.sending = threading.Event()
        self.sending.set()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._send, daemon=True)
        self._thread.start()

    def reader_baud(self) -> int:
        speed = termios.tcgetattr(self.master)[4]
        return {termios.B1200: 1200, termios.B9600: 9600}.get(speed, 0)

    def _send(self) -> None:
        n = 0
        while not self._closed.wait(self.period):
            if not self.sending.is_set():
                continue
            if self.baud is None or self.reader_baud() == self.baud:
                data = self.frame(n)
                n += 1
            else:
                data = self.GARBAGE
            with contextlib.suppress(BlockingIOError):  # a real line does not wait either
                os.write(self.master, data)

    def close(self) -> None:
        """Unplug: the pty disappears, the slave path with it."""
        self._closed.set()
        self._thread.join(10)
        os.close(self.master)
        os.close(self.slave)
