"""Helpers shared by the source tests: a protocol that decodes what it receives, like the daemon."""

from __future__ import annotations

import threading
import time
from typing import Callable

from teleinforeader.tic import Decoder, encode_frame


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


def wait_for(condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Poll `condition` until true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout:.0f} s")
        time.sleep(0.01)


def historic_frame(index: int = 1234567) -> bytes:
    return encode_frame(
        {
            "ADCO": "021728123456",
            "OPTARIF": "BASE",
            "ISOUSC": "30",
            "BASE": f"{index:09d}",
            "PTEC": "TH..",
            "IINST": "002",
            "IMAX": "090",
            "PAPP": "00420",
            "HHPHC": "A",
            "MOTDETAT": "000000",
        },
        "historic",
    )


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
