"""The serial port source: a TIC line on a UART, a USB adapter or a pyserial URL.

Plan: open the port 7E1 (pyserial's `serial_for_url`, so /dev/serial0, /dev/serial/by-id/...,
socket://host:port and rfc2217://host:port all work) and block on it, handing whatever arrives
to the protocol. The protocol says how many valid frames each chunk completed; that is all this
module needs to

- find the speed in "auto" mode: 9600 baud (standard) then 1200 (historic), `detect_timeout`
  seconds each, until one yields a valid frame, then keep it;
- notice a silent line: no valid frame for `silence_timeout` seconds -> warn, reopen, detect again;
- ride out an unplugged adapter or a closed socket: log once, retry with exponential backoff
  (1 s doubling to 30 s), log when it is back. It never gives up and never spins.

Reading costs about a wake-up per frame, whatever the port's arrival pattern: after a frame,
the reader sleeps until the next one is due whole at the line's speed, and in a frame until its
rest is (`FrameTimer`, each pause counted from the read), then takes it in one read
(`PortReader`); where frames are further apart it blocks until the next one begins. Idle costs
nothing: every wait blocks in the kernel until the next deadline (the silence, or the next speed
to try). `stop()` ends a read or a pause through a pipe (or pyserial's `cancel_read` where a
port has no descriptor), and a backoff wait through an Event.

While no sink needs a frame at once (the protocol's `patience`: no client, no browser), the
reader rests instead, a few seconds at a time, and takes several frames in one read, each
stamped with the time its last byte came (`resting`); `hurry()` ends a rest when a client comes.

A socket:// URL reaches a line whose speed is set at the far end (ser2net, an ESP bridge), so no
speed is tried there: the bytes are taken as they come and the decoder tells the mode.
"""

from __future__ import annotations

import contextlib
import errno
import grp
import logging
import os
import pwd
import termios
import threading
import time
from collections.abc import Mapping
from typing import Any, Callable

import serial

from teleinforeader.sources.base import ReaderProtocol, Source
from teleinforeader.sources.devicepolicy import DevicePolicy, is_policy_refusal
from teleinforeader.sources.frametimer import MIN_TOPUP, FrameTimer, byte_seconds
from teleinforeader.sources.pacing import BAUD_OF_MODE, HISTORIC_BAUD, STANDARD_BAUD
from teleinforeader.sources.portreader import PortReader
from teleinforeader.sources.resting import REST_BYTES, aged_pieces, rest_seconds
from teleinforeader.tic.decoder import AUTO, MODES

log = logging.getLogger(__name__)

MODE_OF_BAUD = {baud: mode for mode, baud in BAUD_OF_MODE.items()}
AUTO_BAUDS = (
    STANDARD_BAUD,
    HISTORIC_BAUD,
)  # standard first: its frames come every second, historic ones slower
# URL schemes whose line speed is set at the far end: there is no speed to detect.
FAR_END_SPEED_SCHEMES = ("socket://",)
# What a port can raise: pyserial wraps most errors, not termios ones from a reconfiguration.
PORT_ERRORS = (serial.SerialException, OSError, termios.error)


class SilentLineError(Exception):
    """The port is open but no valid frame came for `silence_timeout` seconds."""


def current_user() -> str:
    """The name of the user the daemon runs as (the one that needs the device's group)."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # a uid with no passwd entry (containers)
        return str(os.geteuid())


def permission_message(device: str, user: str) -> str:
    """One clear line: which device, which user, and the command that fixes it."""
    try:
        group = grp.getgrgid(os.stat(device).st_gid).gr_name
    except (OSError, KeyError):
        group = "dialout"  # the group owning serial devices on Debian and Raspberry Pi OS
    return (
        f"permission denied opening {device} as user {user!r}: add the user to the "
        f"{group!r} group (sudo usermod -aG {group} {user}), then log in again or restart "
        f"the service"
    )


def _is_permission_error(exc: BaseException) -> bool:
    return isinstance(exc, PermissionError) or getattr(exc, "errno", None) == errno.EACCES


class SerialSource(Source):
    """Reads `device` (a path or a pyserial URL) in `mode` auto, historic or standard.

    `detect_timeout` is how long each speed is tried in auto mode; the backoff between failed
    opens starts at `backoff_initial` seconds and doubles up to `backoff_max`.
    """

    name = "serial"

    def __init__(
        self,
        device: str,
        mode: str = AUTO,
        silence_timeout: float = 30.0,
        detect_timeout: float = 3.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"source.mode must be one of {', '.join(MODES)}, not {mode!r}")
        for key, value in (
            ("source.silence_timeout", silence_timeout),
            ("detect_timeout", detect_timeout),
            ("backoff_initial", backoff_initial),
        ):
            if value <= 0:
                raise ValueError(f"{key} must be positive, not {value}")
        if backoff_max < backoff_initial:
            raise ValueError(f"backoff_max ({backoff_max}) is below backoff_initial")
        try:  # an unknown URL scheme is a configuration error, not a line to wait for
            serial.serial_for_url(device, do_not_open=True)
        except ValueError as exc:
            raise ValueError(f"source.device {device!r}: {exc}") from None
        self.device = device
        self.mode = mode
        self.silence_timeout = silence_timeout
        self.detect_timeout = detect_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.far_end_speed = device.startswith(FAR_END_SPEED_SCHEMES)
        self._bauds: tuple[int, ...] = (
            () if self.far_end_speed else AUTO_BAUDS if mode == AUTO else (BAUD_OF_MODE[mode],)
        )
        self._baud_index = 0
        self._framing = "7E1"  # or 8N1 when the port refuses parity
        self._locked = False  # a valid frame came at the current speed since the last open
        self._may_rest = True  # until the port brings more than its speed allows (a pty)
        self._stop = threading.Event()
        self._open_now = threading.Event()
        self._lock = threading.Lock()
        self._reader: PortReader | None = None  # reading the open port, for stop() to interrupt
        self._stop_pipe: tuple[int, int] | None = None  # wakes a read or a pause on stop()
        self._hurry_pipe: tuple[int, int] | None = None  # ends a rest on hurry()
        self._timer = FrameTimer()
        self._delay = backoff_initial
        self._in_outage = False
        self._outage_failures = 0
        self._problem = ""  # why the last open failed, for `waiting`
        self._policy = DevicePolicy.from_environment()
        self._in_silence = False
        self._counters = dict.fromkeys(
            ("opens", "reconnects", "failures", "silences", "bytes", "frames", "rests"), 0
        )

    # -- what the daemon sees --------------------------------------------------------------

    @property
    def baud(self) -> int | None:
        """The speed in use (or being tried); None when the far end sets it (socket://)."""
        return self._bauds[self._baud_index] if self._bauds else None

    @property
    def line_mode(self) -> str | None:
        """historic or standard once a speed has given valid frames; None before."""
        return MODE_OF_BAUD.get(self.baud) if self._locked and self.baud else None

    @property
    def ready(self) -> bool:
        return self._open_now.is_set()

    @property
    def waiting(self) -> str | None:
        if self._open_now.is_set():
            return None
        return f"waiting for {self.device}" + (f" ({self._problem})" if self._problem else "")

    def counters(self) -> Mapping[str, int]:
        """opens; reconnects (opens after the first, silences included); failures (opens that
        failed, ports lost); silences; bytes; frames (valid ones, as the protocol counted);
        rests (reads after a rest, while no sink needed the frames at once); baud (the speed
        that gave valid frames since the last open, 0 before or over socket://).
        """
        locked_baud = self.baud if self._locked and self.baud else 0
        return {**self._counters, "baud": locked_baud}

    def describe(self) -> str:
        if self.baud is None:
            return f"{self.device} (line speed set at the far end)"
        return f"{self.device} at {self.baud} baud {self._framing}"

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            _poke(self._stop_pipe)
            if self._reader is not None:
                self._reader.interrupt()

    def hurry(self) -> None:
        with self._lock:
            _poke(self._hurry_pipe)

    # -- the reader thread -----------------------------------------------------------------

    def run(self, protocol: ReaderProtocol) -> None:
        with self._lock:
            self._stop_pipe, self._hurry_pipe = _wake_pipe(), _wake_pipe()
            if self._stop.is_set():  # stopped before it ran
                _poke(self._stop_pipe)
        try:
            self._run(protocol)
        finally:
            with self._lock:
                for fd in (*self._stop_pipe, *self._hurry_pipe):
                    os.close(fd)
                self._stop_pipe = self._hurry_pipe = None

    def _run(self, protocol: ReaderProtocol) -> None:
        while not self._stop.is_set():
            port = self._open()
            if port is None:
                self._backoff()
                continue
            try:
                error = self._receive(port, protocol)
            finally:
                self._close(port)
            protocol.connection_lost(None if self._stop.is_set() else error)
            if isinstance(error, SilentLineError):
                continue  # reopen at once: the port works, the line does not
            if error is not None and not self._stop.is_set():
                self._trouble(f"lost {self.device}: {error}")
                self._backoff()

    def _backoff(self) -> None:
        self._stop.wait(self._delay)
        self._delay = min(self._delay * 2, self.backoff_max)

    def _open(self) -> Any:
        try:
            port = serial.serial_for_url(self.device, do_not_open=True)
            if self.baud is not None:
                port.baudrate = self.baud
            port.bytesize = serial.SEVENBITS
            port.parity = serial.PARITY_EVEN
            port.stopbits = serial.STOPBITS_ONE
            port.xonxoff = port.rtscts = port.dsrdtr = False
            if isinstance(port, serial.Serial):  # a local device: one reader at a time
                port.exclusive = True
            self._framing = "7E1"
            try:
                port.open()
            except termios.error as exc:
                if exc.args[0] != errno.EINVAL:
                    raise
                # The port refuses 7E1 (a pty, a UART without parity). 8N1 frames the same
                # 10-bit characters, the parity bit arriving as bit 7, which the decoder strips.
                port.bytesize, port.parity = serial.EIGHTBITS, serial.PARITY_NONE
                self._framing = "8N1"
                port.open()
        except PORT_ERRORS as exc:
            code = getattr(exc, "errno", None)
            self._problem = os.strerror(code) if isinstance(code, int) else str(exc)
            if is_policy_refusal(exc):  # may raise RestartRequiredError: see devicepolicy
                self._trouble(self._policy.refused(self.device))
            elif _is_permission_error(exc):
                self._trouble(permission_message(self.device, current_user()))
            else:
                self._trouble(f"cannot open {self.device}: {exc}")
            return None
        self._problem = ""
        self._policy.opened()
        self._counters["opens"] += 1
        if self._counters["opens"] > 1:
            self._counters["reconnects"] += 1
        if self._in_outage:
            log.info("%s is back after %d failed attempts", self.device, self._outage_failures)
            self._in_outage = False
        elif self._counters["opens"] == 1:
            log.info("reading %s", self.describe())
        return port

    def _trouble(self, message: str) -> None:
        """Log the first failure of an outage; the retries that follow are only counted."""
        self._counters["failures"] += 1
        if self._in_outage:
            self._outage_failures += 1
            log.debug("%s", message)
            return
        self._in_outage = True
        self._outage_failures = 1
        log.error("%s; retrying, then every %g s at most", message, self.backoff_max)

    def _close(self, port: Any) -> None:
        with self._lock:
            self._reader = None
        self._open_now.clear()
        try:
            port.close()
        except PORT_ERRORS as exc:
            log.debug("closing %s: %s", self.device, exc)

    def _receive(self, port: Any, protocol: ReaderProtocol) -> Exception | None:
        """Read until stopped (None), the port fails (its error) or the line is silent."""
        self._locked = False
        self._may_rest = True
        protocol.connection_made(self.describe())
        assert self._stop_pipe is not None and self._hurry_pipe is not None
        reader = PortReader(port, self._stop_pipe[0], self._hurry_pipe[0])
        patience = getattr(protocol, "patience", None)  # a protocol that does not say reads live
        with self._lock:
            self._reader = reader
        self._open_now.set()
        timer = self._timer
        timer.restart(self._seconds_per_byte())
        now = time.monotonic()
        last_frame = trying_since = now
        while not self._stop.is_set():
            deadline = last_frame + self.silence_timeout
            if now >= deadline:
                return self._silent()
            if not self._locked and len(self._bauds) > 1:
                next_speed_at = trying_since + self.detect_timeout
                if now >= next_speed_at:
                    try:
                        self._try_next_speed(port)
                    except PORT_ERRORS as exc:  # reopened at the next speed after a backoff
                        return exc
                    timer.restart(self._seconds_per_byte())
                    reader.deadline_moved()
                    trying_since = now
                    continue
                deadline = min(deadline, next_speed_at)
            rest = self._rest_seconds(patience)
            pause = timer.pause()
            if pause:  # due from the last read: what its frames cost since is not added to it
                pause = max(pause - (time.monotonic() - now), min(pause, MIN_TOPUP))
            try:
                if rest:
                    data = reader.rest(min(rest, deadline - now))
                else:
                    data = reader.read(deadline - now, pause)
            except PORT_ERRORS as exc:
                return exc
            now = time.monotonic()
            if not data:
                if pause and not rest:
                    timer.stalled()  # nothing for a whole pause: wait for the next byte
                continue
            self._counters["bytes"] += len(data)
            frames = self._rested(protocol, data) if rest else protocol.data_received(data)
            timer.seen(data)
            if frames:
                last_frame = now
                self._got_frames(frames)
        return None

    def _rest_seconds(self, patience: Callable[[], float] | None) -> float:
        """How long the next read may wait for the sinks' sake: only once a speed gave valid
        frames (detecting one, or a far end's speed, reads as the bytes come)."""
        if patience is None or not self._locked or not self._may_rest or self.baud is None:
            return 0.0
        return rest_seconds(patience(), byte_seconds(self.baud))

    def _rested(self, protocol: ReaderProtocol, data: bytes) -> int:
        """Hand over what a rest gathered a frame at a time, each with its age."""
        assert self.baud is not None
        self._counters["rests"] += 1
        if len(data) > REST_BYTES:  # faster than the line's speed: resting could overflow it
            self._may_rest = False
            log.warning(
                "%s brought %d bytes in a rest, more than %d baud allows: reading it as the "
                "bytes come until it is opened again",
                self.device,
                len(data),
                self.baud,
            )
        frames = 0
        for piece, age in aged_pieces(data, byte_seconds(self.baud)):
            frames += protocol.data_received(piece, age)
        return frames

    def _seconds_per_byte(self) -> float | None:
        return None if self.baud is None else byte_seconds(self.baud)

    def _got_frames(self, frames: int) -> None:
        self._counters["frames"] += frames
        self._delay = self.backoff_initial  # the line works: the next outage starts afresh
        if self._in_silence:
            log.info("valid frames again from %s", self.describe())
            self._in_silence = False
        if not self._locked:
            self._locked = True
            if len(self._bauds) > 1:
                log.info("%s: %s mode detected", self.describe(), self.line_mode)

    def _try_next_speed(self, port: Any) -> None:
        self._baud_index = (self._baud_index + 1) % len(self._bauds)
        log.debug("no valid frame yet, trying %s", self.describe())
        port.baudrate = self.baud

    def _silent(self) -> SilentLineError:
        self._counters["silences"] += 1
        error = SilentLineError(f"no valid frame for {self.silence_timeout:g} s")
        if self._in_silence:
            log.debug("%s: %s", self.device, error)
        else:
            self._in_silence = True
            again = ", detecting the speed again" if len(self._bauds) > 1 else ""
            log.warning(
                "%s: %s (meter unplugged, wrong mode or speed?): reopening%s",
                self.describe(),
                error,
                again,
            )
        return error


def _wake_pipe() -> tuple[int, int]:
    """A pipe whose write end never blocks: one byte in it is enough to wake the reader."""
    pipe = os.pipe()
    os.set_blocking(pipe[1], False)
    return pipe


def _poke(pipe: tuple[int, int] | None) -> None:
    if pipe is not None:
        with contextlib.suppress(BlockingIOError):  # full: a wake-up is pending anyway
            os.write(pipe[1], b"\0")
