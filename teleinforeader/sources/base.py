"""What every byte source (serial port, replay file, simulated meter) offers the reader thread.

Modelled on pyserial's `serial.threaded`: the source owns the port and its blocking read loop,
the protocol object owns the data. The source knows nothing of frames except how many valid
ones each chunk completed, which is all it needs to pick a speed and to notice a silent line.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Protocol


class RestartRequiredError(Exception):
    """Raised by `Source.run` when only a new process can get past what stops it (the daemon
    stops cleanly and exits with a status systemd restarts on); its str() says why."""


class ReaderProtocol(Protocol):
    """The receiving end of a source (the daemon: a decoder feeding the frame queue)."""

    def connection_made(self, description: str) -> None:
        """The port was (re)opened, e.g. "/dev/serial0 at 1200 baud 7E1": drop partial frames."""

    def data_received(self, data: bytes, age: float = 0.0) -> int:
        """Take a chunk of bytes whose last one came `age` seconds ago (0: just now; more
        after a rest); return how many valid frames it completed.

        A protocol may also offer `patience() -> float`: how long its frames may wait in the
        line before it needs them (0: at once). A serial source then rests that long between
        reads (see `sources.resting`); one that does not offer it is fed as bytes come."""

    def connection_lost(self, error: Exception | None) -> None:
        """The port went away (`error`) or was closed on request (None)."""


class Source(abc.ABC):
    """A producer of TIC bytes, run in the reader thread until `stop()` is called."""

    name: str = "source"
    # The bytes wait until they are read (a file, a generator): the reader may pause between
    # chunks while a sink catches up. Never so for a line, which does not wait.
    pausable: bool = False

    @abc.abstractmethod
    def run(self, protocol: ReaderProtocol) -> None:
        """Read until stopped, blocking on the port (no polling), reopening it when it fails."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Make `run` return soon, from another thread (interrupts a blocking read)."""

    def hurry(self) -> None:  # noqa: B027 - a source that never rests has nothing to end
        """From another thread: the protocol's patience dropped (a client came), end a rest
        now. Sources that never rest ignore it."""

    @property
    def ready(self) -> bool:
        """True once the source is open (the daemon reports READY=1 to systemd then)."""
        return True

    @property
    def waiting(self) -> str | None:
        """What the source waits for while it is not open ("waiting for /dev/serial0 (No such
        file or directory)"), for `systemctl status`; None while it reads."""
        return None

    def counters(self) -> Mapping[str, int]:
        """Figures for the summary line: reconnects, bytes read, silences, ..."""
        return {}
