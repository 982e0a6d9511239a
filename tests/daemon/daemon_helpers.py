"""Small real parts for the pipeline tests: a source playing bytes from memory, sinks that
collect, stall or crash in their own threads, and a datagram socket standing in for systemd."""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from teleinforeader.sinks.base import Sink, SinkStatus, Worker
from teleinforeader.sources.base import ReaderProtocol, Source
from teleinforeader.tic import Frame, encode_frame

ADCO = "021728123456"


def historic_frame(index: int, papp: int = 1800) -> bytes:
    """A single-phase BASE frame (30 A subscription) with energy index `index`."""
    return encode_frame(
        {
            "ADCO": ADCO,
            "OPTARIF": "BASE",
            "ISOUSC": "30",
            "BASE": f"{index:09d}",
            "PTEC": "TH..",
            "IINST": "008",
            "IMAX": "090",
            "PAPP": f"{papp:05d}",
            "HHPHC": "A",
            "MOTDETAT": "000000",
        },
        "historic",
    )


def steady_line(count: int, start: int = 1_000_000) -> list[bytes]:
    """`count` frames of a small steady load, one chunk each."""
    return [historic_frame(start + n) for n in range(count)]


class MemorySource(Source):
    """Plays `chunks`, then waits for `stop()` (a live line gone quiet) or returns (`ends`)."""

    name = "memory"

    def __init__(self, chunks: Sequence[bytes], *, ends: bool = False, fail: bool = False) -> None:
        self.chunks = list(chunks)
        self.ends = ends
        self.fail = fail
        self.played = threading.Event()
        self._stop = threading.Event()
        self._open = threading.Event()

    def run(self, protocol: ReaderProtocol) -> None:
        protocol.connection_made("memory")
        self._open.set()
        for chunk in self.chunks:
            if self._stop.is_set():
                break
            protocol.data_received(chunk)
        self.played.set()
        if self.fail:
            raise OSError("the adapter caught fire")
        if not self.ends:
            self._stop.wait()
        protocol.connection_lost(None)

    def stop(self) -> None:
        self._stop.set()

    @property
    def ready(self) -> bool:
        return self._open.is_set()

    def counters(self) -> dict[str, int]:
        return {"chunks": len(self.chunks)}


class CollectingSink(Sink):
    """Collects frames in its own thread; `gate` (cleared) stalls that thread; `crash_after`
    makes it die on that frame, as a sink with a bug would."""

    def __init__(self, name: str = "collect", crash_after: int | None = None) -> None:
        self.name = name
        self.frames: list[Frame] = []
        self.gate = threading.Event()
        self.gate.set()
        self.closed = False
        self.crash_after = crash_after
        self._queue: queue.Queue[Frame | None] = queue.Queue()
        self._worker = Worker(name, self._collect)

    def start(self) -> None:
        self._worker.start()

    def submit(self, frame: Frame) -> None:
        self._queue.put_nowait(frame)

    def close(self, timeout: float) -> None:
        self._queue.put(None)
        self._worker.join(timeout)
        self.closed = True

    def status(self) -> SinkStatus:
        return SinkStatus(self._worker.healthy, self._queue.qsize(), len(self.frames), {})

    def _collect(self) -> None:
        while True:
            frame = self._queue.get()
            if frame is None:
                return
            self.gate.wait()
            if self.crash_after is not None and len(self.frames) >= self.crash_after:
                raise RuntimeError(f"{self.name} sink bug")
            self.frames.append(frame)


class BlockingSubmitSink(CollectingSink):
    """Breaks the contract: `submit` blocks while `gate` is cleared (it stalls the reader)."""

    def submit(self, frame: Frame) -> None:
        self.gate.wait()
        super().submit(frame)


class NotifySocket:
    """The service manager's end of $NOTIFY_SOCKET: a bound AF_UNIX datagram socket."""

    def __init__(self, path: Path | str) -> None:
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(str(path))
        self.address = str(path) if isinstance(path, Path) else path
        self.messages: list[dict[str, str]] = []

    def environ(self, watchdog_usec: int | None = None) -> dict[str, str]:
        environ = {"NOTIFY_SOCKET": self.address}
        if watchdog_usec is not None:
            environ["WATCHDOG_USEC"] = str(watchdog_usec)
        return environ

    def receive_until(self, key: str, timeout: float = 10.0) -> dict[str, str]:
        """The first message setting `key` (every message read on the way is kept)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {key}= within {timeout:.0f} s: {self.messages}")
            self.socket.settimeout(remaining)
            try:
                data = self.socket.recv(4096)
            except socket.timeout:
                continue
            message = dict(line.split("=", 1) for line in data.decode().splitlines())
            self.messages.append(message)
            if key in message:
                return message

    def drain(self) -> None:
        """Forget every message sent so far, read or not."""
        self.socket.setblocking(False)
        try:
            while True:
                self.socket.recv(4096)
        except BlockingIOError:
            pass
        finally:
            self.socket.setblocking(True)
        self.messages.clear()

    def close(self) -> None:
        self.socket.close()
