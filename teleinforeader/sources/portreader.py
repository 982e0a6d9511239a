"""Reading an open pyserial port with as little work per wake-up as possible, and stoppable.

On a Pi Zero a wake-up of the reader costs more than decoding the bytes it brings, and what it
costs is mostly the Python run on the way (pyserial's read loop). So a port with a descriptor
(a local device, socket://) is read here directly: one select() on the port and a stop pipe,
then one os.read() of all that waits, the descriptor being non-blocking already (pyserial
opens it so). The reader sleeps the same way, on the stop pipe alone, so a pause is as cheap
as a blocking read and `stop()` ends either at once. Ports without a descriptor (rfc2217://,
loop://) go through pyserial's own read, whose timeout is bounded where it cannot be
cancelled.
"""

from __future__ import annotations

import io
import logging
import os
import select
import termios
from typing import Any

import serial

log = logging.getLogger(__name__)

READ_SIZE = 4096  # a tty's input buffer: more never waits at once
_MIN_READ_TIMEOUT = 0.01  # 0 would make pyserial non-blocking: a spin
_UNINTERRUPTIBLE_READ_TIMEOUT = 1.0  # rfc2217:// reads cannot be cancelled: bound stop latency


class PortReader:
    """Reads `port` until `stop_fd` (the read end of a pipe) becomes readable; `hurry_fd`
    (another pipe's) ends a rest early."""

    def __init__(self, port: Any, stop_fd: int, hurry_fd: int | None = None) -> None:
        self.port = port
        self._stop_fd = stop_fd
        self._hurry_fd = hurry_fd
        self._wakers = [stop_fd] if hurry_fd is None else [stop_fd, hurry_fd]
        try:
            self._fd: int | None = port.fileno()
        except (AttributeError, io.UnsupportedOperation):
            self._fd = None
        self._cancellable = hasattr(port, "cancel_read")
        self._retime = True  # pyserial's read timeout must be set for a new deadline

    def read(self, timeout: float, pause: float = 0.0) -> bytes:
        """The next bytes, or b"" after `timeout` seconds or a stop.

        With `pause`, wait that long first (unless bytes wait already, a backlog to take at
        once), then take what came without waiting more; otherwise return as soon as a byte
        comes, with whatever came with it."""
        if pause > 0 and not self._waiting():
            if self._sleep(min(pause, timeout)) or not self._waiting():
                return b""  # stopped, or the line said nothing: not a port gone (see `rest`)
            return self._take()
        return self._block(timeout)

    def rest(self, seconds: float) -> bytes:
        """Sleep `seconds` whatever comes meanwhile (a stop or a hurry ends it sooner), then
        take everything the port holds (a stop too: resting must not lose what waits)."""
        ready, _, _ = select.select(self._wakers, [], [], max(seconds, 0.0))
        if self._hurry_fd is not None and self._hurry_fd in ready:
            os.read(self._hurry_fd, 64)  # readable: it does not block
        chunks = []
        # A tty opened by pyserial reads 0 bytes when none wait (VMIN=0), as a gone device
        # does: only what select() says is readable is read (`_take` tells the two apart).
        while self._waiting():
            chunk = self._take()
            chunks.append(chunk)
            if len(chunk) < READ_SIZE:  # a rest holds less: all of it, unless it outran us
                break
        return b"".join(chunks)

    def _sleep(self, seconds: float) -> bool:
        """Sleep `seconds`; True when stopped meanwhile."""
        ready, _, _ = select.select([self._stop_fd], [], [], max(seconds, 0.0))
        return bool(ready)

    def _waiting(self) -> bool:
        if self._fd is None:
            return bool(self.port.in_waiting)
        ready, _, _ = select.select([self._fd], [], [], 0)
        return bool(ready)

    def _take(self) -> bytes:
        """What the port holds now, without waiting."""
        if self._fd is None:
            waiting = self.port.in_waiting
            return self.port.read(waiting) if waiting else b""
        try:
            data = os.read(self._fd, READ_SIZE)
        except BlockingIOError:
            return b""
        if not data:  # readable and nothing to read: the device or the connection is gone
            raise serial.SerialException("the port reports data but returns none (gone?)")
        return data

    def _block(self, timeout: float) -> bytes:
        if self._fd is None:
            return self._pyserial_read(timeout)
        ready, _, _ = select.select([self._fd, self._stop_fd], [], [], max(timeout, 0.0))
        if self._fd not in ready:
            return b""
        return self._take()  # b"" when another reader took the bytes first

    def _pyserial_read(self, timeout: float) -> bytes:
        # Each change of the timeout reconfigures the port (a termios call, an rfc2217
        # negotiation): it is set again only after a read timed out or the deadline moved.
        if self._retime:
            timeout = max(timeout, _MIN_READ_TIMEOUT)
            if not self._cancellable:
                timeout = min(timeout, _UNINTERRUPTIBLE_READ_TIMEOUT)
            _set_read_timeout(self.port, timeout)
        data = self.port.read(self.port.in_waiting or 1)
        self._retime = not data
        return data

    def deadline_moved(self) -> None:
        """The next deadline is sooner than the last one (a speed to try)."""
        self._retime = True

    def interrupt(self) -> None:
        """From another thread: make a pyserial read return now (the pipe wakes the others)."""
        if self._fd is None and self._cancellable:
            try:
                self.port.cancel_read()
            except (serial.SerialException, OSError) as exc:
                log.debug("interrupting a read: %s", exc)


def _set_read_timeout(port: Any, timeout: float) -> None:
    try:
        port.timeout = timeout
    except termios.error as exc:
        # A pty keeps CS8 whatever is asked, so pyserial sees the settings differ from 7E1 and
        # rewrites them; the kernel refuses a rewrite that changes nothing (EINVAL). The timeout
        # is pyserial's own select() timeout, stored before that rewrite: it is in force.
        log.debug("%s: %s (settings not rewritten, timeout kept)", port.name, exc)
