"""The serial source on real ptys and real TCP sockets: speed detection, silence, unplug, stop."""

from __future__ import annotations

import logging
import os
import resource
import socket
import threading
import time
import tty
from pathlib import Path

import pytest
from source_helpers import (
    DecodingProtocol,
    PtyMeter,
    SourceThread,
    historic_frame,
    standard_frame,
    wait_for,
)

from teleinforeader.settings import SourceSettings
from teleinforeader.sources import create_source
from teleinforeader.sources.serialport import SerialSource, SilentLineError
from tests.support.threads import thread_sleeps

LOGGER = "teleinforeader.sources.serialport"
FAST = {"detect_timeout": 0.3, "backoff_initial": 0.05, "backoff_max": 0.2}


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def historic_meter():
    meter = PtyMeter(historic_frame, baud=1200)
    yield meter
    meter.close()


def test_auto_mode_finds_the_historic_speed(historic_meter: PtyMeter) -> None:
    protocol = DecodingProtocol()
    source = SerialSource(historic_meter.path, **FAST)
    with SourceThread(source, protocol):
        wait_for(lambda: len(protocol.frames) >= 3)
        assert source.counters()["baud"] == 1200
        assert source.line_mode == "historic"
        assert historic_meter.reader_baud() == 1200  # the port itself was switched
    assert all(frame.mode == "historic" for frame in protocol.frames)
    assert protocol.decoder.stats.garbage_bytes > 0  # 9600 was tried first and heard garbage
    assert source.counters()["opens"] == 1
    assert protocol.losses == [None]


def test_auto_mode_keeps_9600_for_a_standard_meter() -> None:
    meter = PtyMeter(standard_frame, baud=9600)
    protocol = DecodingProtocol()
    source = SerialSource(meter.path, **FAST)
    try:
        with SourceThread(source, protocol):
            wait_for(lambda: len(protocol.frames) >= 3)
            assert source.line_mode == "standard"
            assert meter.reader_baud() == 9600
        assert protocol.decoder.stats.garbage_bytes == 0
        assert protocol.decoder.stats.rejected_groups == 0
    finally:
        meter.close()


def test_a_pty_ignoring_the_speed_locks_on_the_first_speed_that_gives_frames() -> None:
    meter = PtyMeter(historic_frame, baud=None)
    protocol = DecodingProtocol()
    source = SerialSource(meter.path, **FAST)
    try:
        with SourceThread(source, protocol):
            wait_for(lambda: len(protocol.frames) >= 3)
            assert source.counters()["baud"] == 9600  # tried first, and frames came
    finally:
        meter.close()


def test_a_locked_mode_that_hears_no_frame_reopens_after_the_silence(
    caplog: pytest.LogCaptureFixture,
) -> None:
    meter = PtyMeter(standard_frame, baud=9600)  # a meter switched to standard mode
    protocol = DecodingProtocol()
    source = SerialSource(meter.path, mode="historic", silence_timeout=0.3, **FAST)
    caplog.set_level(logging.DEBUG, LOGGER)
    try:
        with SourceThread(source, protocol):
            wait_for(lambda: source.counters()["silences"] >= 3)
            assert meter.reader_baud() == 1200  # never tries another speed
    finally:
        meter.close()
    assert protocol.frames == []
    assert source.counters()["opens"] >= 3
    assert source.line_mode is None and source.counters()["baud"] == 0
    assert len(protocol.connections) >= 3
    assert any(isinstance(error, SilentLineError) for error in protocol.losses)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "no valid frame for 0.3 s" in warnings[0].getMessage()


def test_frames_of_the_other_mode_count_as_silence() -> None:
    """A pty passes standard frames whatever the speed: a historic decoder refuses them all."""
    meter = PtyMeter(standard_frame, baud=None)
    protocol = DecodingProtocol("historic")
    source = SerialSource(meter.path, mode="historic", silence_timeout=0.3, **FAST)
    try:
        with SourceThread(source, protocol):
            wait_for(lambda: source.counters()["silences"] >= 2)
    finally:
        meter.close()
    assert protocol.frames == [] and protocol.decoder.stats.mode_mismatch > 0
    assert source.counters()["bytes"] > 0 and source.counters()["frames"] == 0


def test_silence_reopens_and_detects_the_mode_the_meter_switched_to(
    historic_meter: PtyMeter, caplog: pytest.LogCaptureFixture
) -> None:
    """The distributor switches the Linky to standard mode: silence, then 9600 baud frames."""
    protocol = DecodingProtocol()
    source = SerialSource(historic_meter.path, silence_timeout=0.5, **FAST)
    caplog.set_level(logging.INFO, LOGGER)
    with SourceThread(source, protocol):
        wait_for(lambda: source.line_mode == "historic")
        historic_meter.sending.clear()
        wait_for(lambda: source.counters()["silences"] >= 1)
        historic_meter.frame, historic_meter.baud = standard_frame, 9600
        historic_meter.sending.set()
        wait_for(lambda: source.line_mode == "standard")
        wait_for(lambda: protocol.frames[-1].mode == "standard")
    assert historic_meter.reader_baud() == 9600
    assert protocol.decoder.stats.mode_switches == 1
    assert source.counters()["opens"] >= 2
    assert source.counters()["reconnects"] == source.counters()["opens"] - 1
    messages = [r.getMessage() for r in caplog.records]
    assert any("valid frames again" in message for message in messages)
    assert any("standard mode detected" in message for message in messages)


def test_stop_interrupts_a_blocking_read_at_once(historic_meter: PtyMeter) -> None:
    historic_meter.sending.clear()
    source = SerialSource(historic_meter.path, mode="historic", silence_timeout=600)
    protocol = DecodingProtocol()
    with SourceThread(source, protocol) as reader:
        wait_for(lambda: source.ready)
        time.sleep(0.2)  # let the read block
        stopped_at = time.monotonic()
    # Joined well before the 600 s read timeout: the read was cancelled, not waited out.
    assert time.monotonic() - stopped_at < 300
    assert not reader.thread.is_alive()
    assert protocol.losses == [None]
    assert not source.ready


def test_an_idle_source_does_not_spin(historic_meter: PtyMeter) -> None:
    """Behaviour, not speed: a busy loop would burn about one CPU second per second."""
    historic_meter.sending.clear()
    source = SerialSource(historic_meter.path, silence_timeout=600)
    with SourceThread(source, DecodingProtocol()):
        wait_for(lambda: source.ready)
        before = resource.getrusage(resource.RUSAGE_SELF)
        time.sleep(1.0)
        after = resource.getrusage(resource.RUSAGE_SELF)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert used < 0.5


def play(master: int, frames: list[bytes], arrival: int, gap: float, baud: int = 9600) -> None:
    """Write `frames` on a pty's master as a line at `baud` hands them over: `arrival` bytes at a
    time, each once its last byte would be in, `gap` seconds of silence between two frames."""
    byte_time = 10 / baud
    due = time.monotonic()
    for frame in frames:
        for start in range(0, len(frame), arrival):
            chunk = frame[start : start + arrival]
            due += len(chunk) * byte_time
            time.sleep(max(due - time.monotonic(), 0))
            os.write(master, chunk)
        due += gap


def reader_sleeps_for(frames: list[bytes], arrival: int, gap: float) -> int:
    """How often the reader slept while a standard meter sent `frames` at 9600 baud; every
    frame must reach the protocol, whole."""
    master, slave = os.openpty()
    tty.setraw(slave)
    protocol = DecodingProtocol("standard")
    source = SerialSource(os.ttyname(slave), mode="standard", **FAST)
    try:
        with SourceThread(source, protocol) as running:
            wait_for(lambda: source.ready)
            reader = running.thread.native_id
            assert reader is not None
            before = thread_sleeps(reader)
            play(master, frames, arrival, gap)
            wait_for(lambda: len(protocol.frames) == len(frames))
            woken = thread_sleeps(reader) - before
    finally:
        os.close(master)
        os.close(slave)
    assert [frame["EAST"] for frame in protocol.frames] == [
        frame.split(b"EAST\t")[1][:9].decode() for frame in frames
    ]
    assert protocol.decoder.stats.rejected_groups == 0
    counters = source.counters()
    assert counters["opens"] == 1 and counters["failures"] == 0, counters  # no port lost
    return woken


def test_bytes_that_come_one_at_a_time_wake_the_reader_a_few_times_a_frame() -> None:
    """A UART without FIFO hands each byte over alone (here at 9600 baud's pace): the reader
    sleeps until the rest of the frame is due, instead of waking for every byte."""
    frames = [standard_frame(1_000 + n) for n in range(12)]
    woken = reader_sleeps_for(frames, arrival=1, gap=0.0)
    # Once a byte would be len(frame) wake-ups a frame, about 120.
    assert woken <= 5 * len(frames), woken


def test_after_a_frame_the_reader_sleeps_until_the_next_one_is_whole() -> None:
    """A FIFO or a USB adapter hands bytes over by the dozen, and frames are a silence apart: the
    reader need not wake for the first bytes of a frame, then again for its rest."""
    frames = [standard_frame(2_000 + n) for n in range(24)]
    woken = reader_sleeps_for(frames, arrival=64, gap=0.020)
    # Blocking until each frame's first bytes, then sleeping for its rest: two a frame.
    assert woken <= 1.5 * len(frames) + 4, woken


def test_frames_further_apart_than_a_silence_cost_no_delay_and_no_frame() -> None:
    """A line that pauses between frames: the reader finds no frame where it expected one, which
    is a quiet line, not a lost port (a tty opened by pyserial reads 0 bytes when none wait, as
    a device that is gone does), and goes back to blocking until each frame's first byte."""
    frames = [standard_frame(3_000 + n) for n in range(8)]
    woken = reader_sleeps_for(frames, arrival=64, gap=0.3)
    # Two a frame, as when blocking for each frame's first byte, and a few to learn the length.
    assert woken <= 2 * len(frames) + 6, woken


def test_a_frame_that_stops_halfway_is_a_quiet_line_not_a_lost_port() -> None:
    """The reader sleeps for the rest of a frame that never comes (the meter unplugged
    mid-frame): a tty opened by pyserial then reads 0 bytes, as a device that is gone does."""
    frames = [standard_frame(4_000 + n) for n in range(4)]
    master, slave = os.openpty()
    tty.setraw(slave)
    protocol = DecodingProtocol("standard")
    source = SerialSource(os.ttyname(slave), mode="standard", **FAST)
    try:
        with SourceThread(source, protocol):
            wait_for(lambda: source.ready)
            play(master, frames[:2], arrival=64, gap=0.02)
            wait_for(lambda: len(protocol.frames) == 2)
            os.write(master, frames[2][:40])  # then nothing for several of the rest's pauses
            time.sleep(1.0)
            play(master, frames[3:], arrival=64, gap=0.02)
            wait_for(lambda: len(protocol.frames) == 3)
    finally:
        os.close(master)
        os.close(slave)
    assert [frame["EAST"] for frame in protocol.frames] == ["000004000", "000004001", "000004003"]
    counters = source.counters()
    assert counters["opens"] == 1 and counters["failures"] == 0, counters
    assert protocol.losses == [None]  # the stop, no lost port


def test_unplugged_adapter_is_retried_and_comes_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A by-id style symlink: the adapter disappears, then reappears under the same name."""
    fds_before = fd_count()
    link = tmp_path / "usb-TIC-if00"
    meter = PtyMeter(historic_frame, baud=1200)
    link.symlink_to(meter.path)
    caplog.set_level(logging.INFO, LOGGER)
    protocol = DecodingProtocol()
    source = SerialSource(str(link), mode="historic", **FAST)
    with SourceThread(source, protocol):
        wait_for(lambda: len(protocol.frames) >= 2)
        # Unplugged: the read fails, then the open does, as udev removes the by-id link (and
        # another process may be given the pty's number meanwhile).
        meter.close()
        link.unlink()
        wait_for(lambda: source.counters()["failures"] >= 4)
        assert not source.ready
        meter = PtyMeter(historic_frame, baud=1200)
        link.symlink_to(meter.path)
        frames_before = len(protocol.frames)
        wait_for(lambda: len(protocol.frames) > frames_before + 2)
        assert source.ready
    meter.close()
    counters = source.counters()
    assert counters["opens"] == 2 and counters["reconnects"] == 1
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]  # once per outage
    assert "lost" in errors[0].getMessage()
    assert any("is back" in r.getMessage() for r in caplog.records)
    assert isinstance(protocol.losses[0], Exception) and protocol.losses[-1] is None
    assert fd_count() == fds_before


def test_stop_interrupts_the_backoff_wait(tmp_path: Path) -> None:
    source = SerialSource(str(tmp_path / "ttyMissing"), backoff_initial=600, backoff_max=600)
    protocol = DecodingProtocol()
    with SourceThread(source, protocol):
        wait_for(lambda: source.counters()["failures"] == 1)
    assert protocol.connections == [] and protocol.losses == []


class TicServer:
    """A ser2net-like TCP bridge on 127.0.0.1 sending historic frames to each client."""

    def __init__(self, port: int = 0) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen()
        self.port = self.listener.getsockname()[1]
        self.clients: list[socket.socket] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(0.05)
        n = 0
        while not self._stopped.is_set():
            try:
                client, _ = self.listener.accept()
                self.clients.append(client)
            except socket.timeout:
                pass
            for client in list(self.clients):
                try:
                    client.sendall(historic_frame(n))
                except OSError:
                    self.clients.remove(client)
            n += 1

    def close(self) -> None:
        self._stopped.set()
        self._thread.join(10)
        for client in self.clients:
            client.close()
        self.listener.close()


def test_socket_url_reconnects_after_the_bridge_restarts(caplog: pytest.LogCaptureFixture) -> None:
    fds_before = fd_count()
    server = TicServer()
    caplog.set_level(logging.INFO, LOGGER)
    protocol = DecodingProtocol()
    source = SerialSource(f"socket://127.0.0.1:{server.port}", **FAST)
    assert source.baud is None and "far end" in source.describe()
    with SourceThread(source, protocol):
        wait_for(lambda: len(protocol.frames) >= 3)
        assert source.line_mode is None  # no speed was set: the decoder tells the mode
        server.close()
        wait_for(lambda: source.counters()["failures"] >= 3)
        frames_before = len(protocol.frames)
        server = TicServer(server.port)
        wait_for(lambda: len(protocol.frames) > frames_before + 2)
    server.close()
    counters = source.counters()
    assert counters["opens"] == 2 and counters["reconnects"] == 1
    assert counters["bytes"] == sum(len(chunk) for chunk in protocol.chunks)
    assert counters["frames"] == len(protocol.frames)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert fd_count() == fds_before


def test_stop_interrupts_a_socket_read() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    source = SerialSource(f"socket://127.0.0.1:{listener.getsockname()[1]}", silence_timeout=600)
    protocol = DecodingProtocol()
    try:
        with SourceThread(source, protocol) as reader:
            wait_for(lambda: source.ready)
            accepted, _ = listener.accept()
            time.sleep(0.2)  # let the read block on a silent connection
        assert not reader.thread.is_alive()
        assert protocol.losses == [None]
        accepted.close()
    finally:
        listener.close()


def test_bad_settings_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match=r"source\.mode"):
        SerialSource("/dev/serial0", mode="fast")
    with pytest.raises(ValueError, match=r"source\.device 'bogus://x'"):
        SerialSource("bogus://x")
    with pytest.raises(ValueError, match="silence_timeout"):
        SerialSource("/dev/serial0", silence_timeout=0)
    with pytest.raises(ValueError, match="backoff_max"):
        SerialSource("/dev/serial0", backoff_initial=5, backoff_max=1)


def test_create_source_builds_a_serial_source() -> None:
    source = create_source(
        SourceSettings(device="/dev/ttyAMA0", mode="standard", silence_timeout=12)
    )
    assert isinstance(source, SerialSource)
    assert (source.device, source.mode, source.silence_timeout) == ("/dev/ttyAMA0", "standard", 12)
    assert source.baud == 9600


PERMISSION_CHILD = """
import json, logging, os, pwd, sys, threading
from teleinforeader.sources.serialport import SerialSource

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
if os.geteuid() == 0:  # root opens anything: become a user outside the device's group
    nobody = pwd.getpwnam("nobody")
    os.setgroups([])
    os.setgid(nobody.pw_gid)
    os.setuid(nobody.pw_uid)
source = SerialSource(sys.argv[1], backoff_initial=0.02, backoff_max=0.05)

class Ignore:
    def connection_made(self, description): pass
    def data_received(self, data): return 0
    def connection_lost(self, error): pass

reader = threading.Thread(target=source.run, args=(Ignore(),))
reader.start()
done = threading.Event()
while source.counters()["failures"] < 5:
    done.wait(0.01)
source.stop()
reader.join()
print(json.dumps(dict(source.counters())))
"""


def test_permission_denied_names_device_user_and_fix(
    historic_meter: PtyMeter, tmp_path: Path
) -> None:
    """A real EACCES, logged once while the source keeps retrying (the group may be fixed).

    As root the child drops to `nobody`, outside the pty's group; as another user it opens a
    device node it may not read (mode 000).
    """
    import grp
    import json
    import pwd
    import subprocess
    import sys

    if os.geteuid() == 0:
        device, user = historic_meter.path, "nobody"
    else:
        device, user = str(tmp_path / "ttyLocked"), pwd.getpwuid(os.geteuid()).pw_name
        Path(device).touch(mode=0)
    result = subprocess.run(
        [sys.executable, "-c", PERMISSION_CHILD, device],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    group = grp.getgrgid(os.stat(device).st_gid).gr_name
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert errors == [
        f"ERROR permission denied opening {device} as user {user!r}: add the user to the"
        f" {group!r} group (sudo usermod -aG {group} {user}), then log in again or restart the"
        " service; retrying, then every 0.05 s at most"
    ]
    counters = json.loads(result.stdout)
    assert counters["failures"] >= 5 and counters["opens"] == 0
