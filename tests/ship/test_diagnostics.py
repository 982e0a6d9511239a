"""`teleinforeader probe` and `record`, run as commands on a real pseudo-terminal.

The test writes into the master side of a pty what a meter would send (real captures), what a
badly set-up port would deliver (garbage, the parity bit as data, noise) or nothing, and the
command reads the slave side through the daemon's own serial source.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
import serial

from teleinforeader.commands.probe import (
    Listening,
    console_devices,
    diagnose,
    listen,
    open_serial,
    report,
)
from teleinforeader.sources.replay import ReplaySource
from teleinforeader.tic.decoder import Decoder, decode
from teleinforeader.tic.frame import Frame

DATA = Path(__file__).resolve().parents[1] / "data"
HISTORIC = (DATA / "historic-tempo-pyteleinfo-captured_frames.bin").read_bytes()
STANDARD = (DATA / "standard-mono-enedis-TIC2WebSocket.bin").read_bytes()
COMMAND = [sys.executable, "-m", "teleinforeader"]
NO_CONFIG = ["--config", os.devnull]


class PtyLine:
    """A pseudo-terminal whose master side plays a meter: `chunks` written again and again."""

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        self.path = os.ttyname(self._slave)
        # Non-blocking: once nobody reads, writes are dropped instead of hanging the writer.
        flags = fcntl.fcntl(self.master, fcntl.F_GETFL)
        fcntl.fcntl(self.master, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        self.written = bytearray()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def play(self, chunks: list[bytes], pause: float = 0.05) -> None:
        def write_forever() -> None:
            while not self._stop.is_set():
                for chunk in chunks:
                    # Nobody reads: the line drops what it cannot hold.
                    with contextlib.suppress(BlockingIOError):
                        self.written += chunk[: os.write(self.master, chunk)]
                    if self._stop.wait(pause):
                        return

        self._thread = threading.Thread(target=write_forever, daemon=True)
        self._thread.start()

    def hang_up(self) -> None:
        """The far end goes away, as an unplugged USB adapter does: reads fail with EIO."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self.master >= 0:
            os.close(self.master)
            self.master = -1

    def close(self) -> None:
        self.hang_up()
        os.close(self._slave)


@pytest.fixture
def line() -> Iterator[PtyLine]:
    pty_line = PtyLine()
    yield pty_line
    pty_line.close()


def frames_of(capture: bytes) -> list[bytes]:
    """The capture cut at each STX, so that every write is one frame, as a meter sends it."""
    return [b"\x02" + piece for piece in capture.split(b"\x02")[1:]]


def with_parity_bit(data: bytes) -> bytes:
    """What a port opened 8N1 reads from a 7E1 line: the even parity bit arrives as bit 7."""
    return bytes(byte | (0x80 if bin(byte).count("1") % 2 else 0) for byte in data)


def run_command(*args: str, timeout: float = 60, **options) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **options,
    )


def probe(*args: str, **options) -> subprocess.CompletedProcess[str]:
    return run_command("probe", *args, *NO_CONFIG, **options)


def valid_frames(result: subprocess.CompletedProcess[str]) -> int:
    """The valid frames probe reports, none dropped. It stops once it has the frames asked for,
    but a pty brings them faster than a line: its last read may have brought a few more."""
    valid = re.search(r"^frames +(\d+) valid, 0 dropped$", result.stdout, re.MULTILINE)
    assert valid, result.stdout
    return int(valid[1])


def advice(result: subprocess.CompletedProcess[str]) -> str:
    return "\n".join(line for line in result.stdout.splitlines() if line.startswith("advice:"))


@pytest.mark.parametrize(
    ("capture", "options", "expected"),
    [
        (
            HISTORIC,
            ("--frames", "3"),
            [
                "mode          historic",
                "meter         021861348497, tariff option BBR(",
            ],
        ),
        (
            STANDARD,
            ("--frames", "2", "--mode", "standard"),
            [
                "9600 baud 7E1",
                "mode          standard",
                "meter         031664001115, tariff option H PLEINE/CREUSE",
            ],
        ),
    ],
    ids=["historic", "standard"],
)
def test_probe_finds_the_meter_and_reports_it(line, capture, options, expected):
    line.play(frames_of(capture))
    result = probe(line.path, *options)
    assert result.returncode == 0, result.stdout + result.stderr
    for text in expected:
        assert text in result.stdout
    assert valid_frames(result) >= int(options[options.index("--frames") + 1])
    assert "checksum errors 0.0 %, format errors 0.0 %" in result.stdout
    assert "first frame   after" in result.stdout
    assert advice(result) == ""


def test_probe_on_a_silent_line_says_to_check_the_wiring(line):
    result = probe(line.path, "--duration", "1")
    assert result.returncode == 1
    assert "frames        0 valid" in result.stdout
    assert "not one byte arrived" in advice(result)
    assert "I1 and I2" in advice(result)


def test_probe_on_garbage_names_speed_console_and_mini_uart(line):
    noise = random.Random(7)
    line.play([bytes(noise.randrange(0x20, 0x7F) for _ in range(64)) for _ in range(8)])
    result = probe(line.path, "--duration", "1.5")
    assert result.returncode == 1
    said = advice(result)
    assert "bytes arrived but no valid frame" in said
    assert "--mode historic" in said
    assert "dtoverlay=disable-bt" in said


def test_probe_notices_the_parity_bit_arriving_as_data(line):
    """A mini-UART cannot do parity: the frames still decode (7-bit mask), but probe warns."""
    line.play([with_parity_bit(frame) for frame in frames_of(HISTORIC)])
    result = probe(line.path, "--frames", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert valid_frames(result) >= 2
    assert "parity bit as data" in advice(result)
    assert "dtoverlay=disable-bt" in advice(result)


def test_probe_reports_a_noisy_line(line):
    frames = frames_of(HISTORIC)
    # Flip one bit in a value of every frame: one group each fails its checksum.
    noisy = [frame.replace(b"PAPP 0", b"PAPP 1", 1) for frame in frames]
    line.play(noisy)
    result = probe(line.path, "--frames", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "checksum errors 0.0 %" not in result.stdout
    assert "of the groups are refused" in advice(result)


def test_probe_of_a_missing_device_explains_the_uart_setup():
    result = probe("/dev/ttyNOSUCHDEVICE")
    assert result.returncode == 1
    said = advice(result)
    assert "/dev/ttyNOSUCHDEVICE does not exist" in said
    assert "enable_uart=1" in said


def probe_as_nobody(device: str, output: Path) -> int:
    """`probe DEVICE` in a forked child that gave up root (which may open anything) first."""
    # Imported before the fork: as nobody, the child may not read the interpreter's own modules.
    import teleinforeader.config
    import teleinforeader.logs
    import teleinforeader.sources.serialport  # noqa: F401
    from teleinforeader.cli import main

    nobody = 65534
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        code = 99
        try:
            sys.stdout = sys.stderr = output.open("w")
            os.setgroups([])
            os.setgid(nobody)
            os.setuid(nobody)
            code = main(["probe", device, *NO_CONFIG])
        except SystemExit as stop:
            code = int(stop.code or 0)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            os._exit(code)
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status)


def test_probe_without_permission_names_the_group_to_join(line, tmp_path):
    output = tmp_path / "probe.out"
    if os.geteuid() == 0:
        os.chmod(line.path, 0o600)
        returncode = probe_as_nobody(line.path, output)
        said = output.read_text()
    else:
        os.chmod(line.path, 0o000)
        result = probe(line.path)
        returncode, said = result.returncode, advice(result)
    assert returncode == 1, said
    assert f"advice: permission denied opening {line.path}" in said
    assert "sudo usermod -aG" in said


def test_probe_of_a_port_held_by_another_program_says_who_to_ask(line):
    holder = serial.Serial(line.path, exclusive=True)
    try:
        result = probe(line.path, "--duration", "1")
    finally:
        holder.close()
    assert result.returncode == 1
    assert "could not be opened" in advice(result)
    assert "fuser" in advice(result)


def test_console_on_the_port_is_found_from_the_kernel_command_line(tmp_path, line):
    cmdline = tmp_path / "cmdline"
    tty = os.path.basename(line.path)
    cmdline.write_text(f"coherent_pool=1M console=pts/{tty},115200 console=tty1 rootwait\n")
    consoles = console_devices(str(cmdline))
    assert tty in consoles
    listening = Listening(Decoder(), wanted_frames=1)
    source = listen(open_serial(line.path, "auto", 0.5), listening, 0.5)
    said = diagnose(listening, source, line.path, consoles)
    assert "kernel console is on" in said[0]
    assert diagnose(listening, source, line.path, console_devices(str(tmp_path / "none"))) != said


def test_probe_reports_a_port_lost_while_listening(line):
    line.play(frames_of(HISTORIC))
    listening = Listening(Decoder(), wanted_frames=None)
    listener = threading.Thread(
        target=listen, args=(open_serial(line.path, "auto", 30), listening, 30)
    )
    listener.start()
    try:
        assert wait_for(lambda: listening.frames > 0)
        line.hang_up()
        assert wait_for(lambda: listening.errors)
    finally:
        listening.done.set()
        listener.join(15)
    assert "port lost     " in report(listening)
    assert "frames        " in report(listening)


def wait_for(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_record_captures_the_bytes_and_replay_plays_them_back(line, tmp_path):
    line.play(frames_of(HISTORIC))
    capture = tmp_path / "capture.bin"
    result = run_command("record", line.path, str(capture), "--duration", "1.5")
    assert result.returncode == 0, result.stdout + result.stderr
    recorded = capture.read_bytes()
    assert f"wrote {len(recorded)} bytes to {capture}" in result.stdout
    assert recorded and recorded in bytes(line.written)

    class Collect:
        frames: ClassVar[list[Frame]] = []

        def connection_made(self, description: str) -> None: ...

        def data_received(self, data: bytes) -> int:
            self.frames += decoder.feed(data)
            return 0

        def connection_lost(self, error: Exception | None) -> None: ...

    decoder = Decoder()
    collected = Collect()
    ReplaySource(capture, speed=0).run(collected)
    assert len(collected.frames) >= 5
    assert collected.frames == decode(recorded)
    assert {frame.meter_id for frame in collected.frames} == {"021861348497"}


def test_record_stops_cleanly_on_ctrl_c(line, tmp_path):
    line.play(frames_of(HISTORIC))
    capture = tmp_path / "capture.bin"
    recorder = subprocess.Popen(
        [*COMMAND, "record", line.path, str(capture)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (capture.exists() and capture.stat().st_size):
        time.sleep(0.05)
    recorder.send_signal(signal.SIGINT)
    out, err = recorder.communicate(timeout=20)
    assert recorder.returncode == 0, out + err
    assert f"wrote {capture.stat().st_size} bytes" in out
    assert capture.stat().st_size > 0


def test_record_never_overwrites_a_capture(line, tmp_path):
    capture = tmp_path / "capture.bin"
    capture.write_bytes(b"an earlier capture")
    result = run_command("record", line.path, str(capture), "--duration", "0.5")
    assert result.returncode == 1
    assert "--force overwrites it" in result.stderr
    assert capture.read_bytes() == b"an earlier capture"


@pytest.mark.parametrize(
    "arguments",
    [
        ("probe", "/dev/null", "--duration", "0"),
        ("probe", "/dev/null", "--frames", "-1"),
        ("probe", "/dev/null", "--frames", "two"),
        ("record", "/dev/null", "out.bin", "--duration", "nan"),
    ],
)
def test_durations_and_counts_must_be_above_zero(arguments, tmp_path):
    result = run_command(*arguments, cwd=tmp_path)
    assert result.returncode == 2
    assert "expected a number above 0" in result.stderr
    assert not (tmp_path / "out.bin").exists()
