"""`teleinforeader probe [DEVICE]`: is there a meter on this port, and if not, why not?

It listens the way the daemon does (the serial source, its speed detection, the decoder) for a
few frames or `--duration` seconds, then prints what it saw: speed and mode, the meter's id and
tariff option, frames, error rates, seconds to the first valid frame. When it saw nothing or
garbage, it says which of the usual causes fit what it measured: a permission, a missing UART,
the port held by another program, the serial console on the UART, the mini-UART of a Pi with
Bluetooth (no parity, a drifting clock), a wrong speed. `record` reuses the listening part.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable

from teleinforeader.cli import add_config_arguments, settings_from_args
from teleinforeader.tic.decoder import MODES, Decoder

if TYPE_CHECKING:
    from teleinforeader.sources.serialport import SerialSource
    from teleinforeader.tic.frame import Frame

EXIT_NO_FRAME = 1
KERNEL_COMMAND_LINE = "/proc/cmdline"
_ASCII = bytes(range(128))
# Above these shares the line is not merely noisy now and then: something is set up wrongly.
_PARITY_BIT_SHARE = 0.01
_BAD_GROUP_SHARE = 0.01
_DISABLE_BT = (
    "on a Pi Zero W, Zero 2 W, 3 or 4, /dev/serial0 is then the mini-UART (no parity, a clock "
    "that follows the CPU's): add dtoverlay=disable-bt to config.txt and reboot"
)


class Listening:
    """What a listening session saw; filled by the reader thread, read once it is over."""

    def __init__(
        self,
        decoder: Decoder,
        wanted_frames: int | None,
        on_data: Callable[[bytes], None] | None = None,
    ) -> None:
        self.decoder = decoder
        self.wanted_frames = wanted_frames
        self.on_data = on_data
        self.started = time.monotonic()
        self.first_frame_after: float | None = None
        self.frames = 0
        self.bytes = 0
        self.parity_bit_bytes = 0  # bytes with bit 7 set: the port is not stripping 7E1 parity
        self.last_frame: Frame | None = None
        self.opened = ""
        self.errors: list[str] = []
        self.done = threading.Event()

    # The serial source's ReaderProtocol.

    def connection_made(self, description: str) -> None:
        self.opened = description
        self.decoder.reset()

    def data_received(self, data: bytes) -> int:
        if self.on_data is not None:
            self.on_data(data)
        self.bytes += len(data)
        self.parity_bit_bytes += len(data.translate(None, _ASCII))
        frames = self.decoder.feed(data, datetime.now(timezone.utc))
        if frames:
            if self.first_frame_after is None:
                self.first_frame_after = time.monotonic() - self.started
            self.frames += len(frames)
            self.last_frame = frames[-1]
            if self.wanted_frames is not None and self.frames >= self.wanted_frames:
                self.done.set()
        return len(frames)

    def connection_lost(self, error: Exception | None) -> None:
        if error is not None:
            self.errors.append(str(error))


def listen(source: SerialSource, listening: Listening, duration: float | None) -> SerialSource:
    """Run `source` until `listening` is done, `duration` seconds pass, or a signal stops it."""
    reader = threading.Thread(target=source.run, args=(listening,), name="reader", daemon=True)
    reader.start()
    try:
        listening.done.wait(duration)
    finally:
        source.stop()
        reader.join(10)
    return source


def open_serial(device: str, mode: str, duration: float | None) -> SerialSource:
    """The daemon's own serial source, kept from declaring the line silent while we listen."""
    from teleinforeader.sources.serialport import SerialSource

    silence = (duration or 0) + 3600.0
    return SerialSource(device, mode=mode, silence_timeout=silence)


def positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    """An argparse type: `kind` (int or float) above zero, or a usage error that says so."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a number above 0, found {text!r}")
        return value

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "device",
        nargs="?",
        help="serial device or pyserial URL (default: [source] device of the configuration)",
    )
    add_config_arguments(parser)
    parser.add_argument(
        "--mode",
        choices=MODES,
        help="historic (1200 baud) or standard (9600 baud); default: [source] mode, auto",
    )
    parser.add_argument(
        "--duration",
        type=positive(float),
        default=30.0,
        metavar="SECONDS",
        help="give up after this long (default: 30)",
    )
    parser.add_argument(
        "--frames",
        type=positive(int),
        default=5,
        metavar="N",
        help="stop after this many valid frames (default: 5)",
    )


def run(args: argparse.Namespace) -> int:
    from teleinforeader.logs import setup_logging

    settings = settings_from_args(args)
    setup_logging(settings.daemon.log_level if args.log_level else "error")
    device = args.device or settings.source.device
    mode = args.mode or settings.source.mode
    print(f"probing {device} ({mode} mode) for up to {args.duration:g} s ...", flush=True)
    advice = local_device_problems(device)
    if advice:
        print_advice(advice)
        return EXIT_NO_FRAME
    listening = Listening(Decoder(mode), wanted_frames=args.frames)
    source = listen(open_serial(device, mode, args.duration), listening, args.duration)
    print(report(listening))
    advice = diagnose(listening, source, device, console_devices())
    print_advice(advice)
    return 0 if listening.frames else EXIT_NO_FRAME


def print_advice(advice: list[str]) -> None:
    for line in advice:
        print(f"advice: {line}")


# --- before listening: the device itself -----------------------------------------------------


def local_device_problems(device: str) -> list[str]:
    """Why a local device cannot be opened at all (URLs are left to pyserial)."""
    from teleinforeader.sources.serialport import current_user, permission_message

    if "://" in device:
        return []
    if not os.path.exists(device):
        return [
            f"{device} does not exist. A USB adapter shows as /dev/ttyUSB0 or /dev/ttyACM0 "
            "(ls /dev/serial/by-id/). On a Pi, /dev/serial0 appears once the UART is on: "
            "enable_uart=1 in config.txt (sudo raspi-config, Interface Options, Serial Port: "
            "login shell No, hardware Yes), then reboot"
        ]
    if not os.access(device, os.R_OK | os.W_OK):
        return [permission_message(device, current_user())]
    return []


def console_devices(cmdline_path: str = KERNEL_COMMAND_LINE) -> set[str]:
    """The devices the kernel's console= arguments name (serial0 resolved to its tty)."""
    try:
        with open(cmdline_path, encoding="ascii", errors="replace") as cmdline:
            words = cmdline.read().split()
    except OSError:
        return set()
    names = {word[len("console=") :].split(",")[0] for word in words if word.startswith("console=")}
    return {os.path.basename(os.path.realpath(f"/dev/{name}")) for name in names}


# --- after listening: what was seen, and what it suggests -----------------------------------


def _share(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f} %" if whole else "0.0 %"


def report(listening: Listening) -> str:
    stats = listening.decoder.stats
    all_groups = stats.groups + stats.rejected_groups
    lines = [f"port          {listening.opened or 'never opened'}"]
    frame = listening.last_frame
    if frame is not None:
        tariff = frame.get("OPTARIF") or frame.get("NGTF") or "?"
        lines += [
            f"mode          {frame.mode}",
            f"meter         {frame.meter_id or '?'}, tariff option {tariff.strip()}",
            f"first frame   after {listening.first_frame_after:.1f} s",
        ]
    lines += [
        f"frames        {listening.frames} valid, {stats.dropped_frames} dropped",
        f"groups        {all_groups} received: "
        f"checksum errors {_share(stats.rejected['checksum'], all_groups)}, "
        f"format errors {_share(stats.rejected['format'], all_groups)}",
        f"bytes         {listening.bytes} received, {stats.garbage_bytes} outside frames, "
        f"{listening.parity_bit_bytes} with bit 7 set",
    ]
    lines += [f"port lost     {error}" for error in listening.errors]
    return "\n".join(lines)


def diagnose(
    listening: Listening, source: SerialSource, device: str, consoles: set[str]
) -> list[str]:
    """The usual causes that fit what was measured, most likely first."""
    advice = []
    stats = listening.decoder.stats
    tty = os.path.basename(os.path.realpath(device))
    if tty in consoles:
        advice.append(
            f"the kernel console is on {tty} (console= in cmdline.txt): it writes to the "
            "meter's line and a login prompt reads from it. Turn it off: sudo raspi-config, "
            "Interface Options, Serial Port, login shell No, hardware Yes; then reboot"
        )
    if source.counters().get("opens", 0) == 0:
        advice.append(
            f"{device} could not be opened (the error is above): if it is busy, another "
            f"program holds it (sudo fuser -v {device}), such as the service itself "
            "(sudo systemctl stop teleinforeader) or a serial console"
        )
        return advice
    if listening.bytes == 0:
        advice.append(
            "not one byte arrived: is the meter wired to I1 and I2 and does the interface's "
            "LED blink? Is this the port the interface is on?"
        )
        return advice
    if listening.parity_bit_bytes > _PARITY_BIT_SHARE * listening.bytes:
        advice.append(
            f"the port delivers the parity bit as data, so it is not reading 7E1: {_DISABLE_BT}"
        )
    all_groups = stats.groups + stats.rejected_groups
    if listening.frames == 0:
        advice.append(
            f"{listening.bytes} bytes arrived but no valid frame: the wrong speed (try --mode "
            "historic for 1200 baud or --mode standard for 9600), a serial console on the "
            f"port, or {_DISABLE_BT}"
        )
    elif stats.rejected_groups > _BAD_GROUP_SHARE * all_groups:
        advice.append(
            f"{_share(stats.rejected_groups, all_groups)} of the groups are refused: a noisy "
            f"or loose connection to I1/I2, or {_DISABLE_BT}"
        )
    return advice
