"""Frames and line-reading clients for the socket server tests (real TCP, no fixtures here)."""

from __future__ import annotations

import json
import socket
from datetime import datetime
from pathlib import Path
from typing import Callable

from teleinforeader.sinks.server import ServerSink
from teleinforeader.tic import Frame, decode, encode_frame
from tests.support.waiting import wait_for

DATA = Path(__file__).resolve().parents[1] / "data"
# Captures under licences that keep them out of the project, next to the repository when present.
SHARED_CAPTURES = Path(__file__).resolve().parents[2].parent / "shared" / "captures"
WAIT = 10.0  # seconds: generous, a loaded CI machine must not make a test flaky

HISTORIC_BASE = {
    "ADCO": "021861348497",
    "OPTARIF": "BASE",
    "ISOUSC": "45",
    "BASE": "008735124",
    "PTEC": "TH..",
    "IINST": "010",
    "IMAX": "090",
    "PAPP": "02380",
    "HHPHC": "A",
    "MOTDETAT": "000000",
}


def historic_frame(index: int, received_at: datetime | None = None) -> Frame:
    """A single-phase BASE frame whose index (BASE, in Wh) is `index`: frames tell apart."""
    groups = dict(HISTORIC_BASE, BASE=f"{index:09d}")
    (frame,) = decode(encode_frame(groups, "historic"), received_at=received_at or datetime.now())
    return frame


def capture_frames(name: str) -> list[Frame]:
    return decode((DATA / name).read_bytes(), received_at=datetime.now())


def submit_paced(sink: ServerSink, indexes: range) -> None:
    """Submit a frame per index, letting the server catch up before its hand-off overflows."""
    for index in indexes:
        sink.submit(historic_frame(index))
        if index % 100 == 99:
            wait_for(lambda: sink.status().backlog == 0)
    wait_for(lambda: sink.status().backlog == 0)
    assert sink.status().counters["handoff_dropped"] == 0


class LineClient:
    """A well-behaved client: reads whole lines, decodes them."""

    def __init__(self, address: tuple[str, int], **socket_options: int) -> None:
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        for option, value in socket_options.items():
            self.sock.setsockopt(socket.SOL_SOCKET, getattr(socket, option), value)
        self.sock.settimeout(WAIT)
        self.sock.connect(address)
        self._buffer = b""

    def read_line(self) -> bytes:
        """The next line (with its newline); b"" at end of stream."""
        while b"\n" not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                rest, self._buffer = self._buffer, b""
                return rest
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line + b"\n"

    def read_message(self) -> dict:
        line = self.read_line()
        assert line.endswith(b"\n"), f"stream ended mid-line or at end: {line!r}"
        return json.loads(line)

    def read_index(self) -> int:
        return int(self.read_message()["frame"]["BASE"])

    def at_end(self) -> bool:
        """True once the server closed the connection (after the lines still buffered)."""
        try:
            return self.read_line() == b""
        except ConnectionResetError:
            return True

    def indexes_until_end(self) -> list[int]:
        """The BASE index of every whole line left before the server hung up."""
        indexes = []
        try:
            while True:
                line = self.read_line()
                if not line.endswith(b"\n"):
                    return indexes
                indexes.append(int(json.loads(line)["frame"]["BASE"]))
        except ConnectionResetError:
            return indexes

    def close(self) -> None:
        self.sock.close()


def connected(sink: ServerSink, count: int) -> Callable[[], bool]:
    return lambda: sink.status().counters["clients"] == count
