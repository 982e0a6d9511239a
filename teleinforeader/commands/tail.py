"""`teleinforeader tail [HOST[:PORT]]`: follow the frames a running daemon broadcasts.

The friendly way to see that the meter is read: one readable line per frame (time, meter,
tariff period, power, current, index), or the raw JSON lines with `--json`. It reconnects,
with backoff, when the daemon restarts, and stops quietly on Ctrl-C. It speaks only the JSON
lines protocol (docs/protocol.md), so it imports neither the decoder nor the server and starts
fast on a Pi Zero.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from collections.abc import Iterator, Mapping

DEFAULT_HOST = "localhost"
DEFAULT_PORT = 50007
MAX_LINE = 64 * 1024  # far above any frame's line; a longer one is not our protocol
FIRST_RETRY = 0.5  # seconds; doubled after each failed attempt
LAST_RETRY = 30.0
CONNECT_TIMEOUT = 10.0
EX_NOPERM = 77  # sysexits.h: the daemon's allow list refuses this machine

HISTORIC_INDEXES = (
    "BASE",
    "HCHC",
    "HCHP",
    "EJPHN",
    "EJPHPM",
    "BBRHCJB",
    "BBRHPJB",
    "BBRHCJW",
    "BBRHPJW",
    "BBRHCJR",
    "BBRHPJR",
)


class RefusedError(Exception):
    """The daemon answered with an error line instead of frames."""


class OutputClosedError(Exception):
    """Whoever read our stdout is gone (`teleinforeader tail | head`)."""


def parse_address(text: str) -> tuple[str, int]:
    """ "host", "host:port", "[v6]:port", "v6" (bare, no port) -> (host, port)."""
    host, port = text, ""
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise argparse.ArgumentTypeError(f"{text!r}: expected [IPv6]:PORT")
        port = rest[1:]
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    if not port:
        return host or DEFAULT_HOST, DEFAULT_PORT
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r}: the port must be a number from 1 to 65535")
    return host or DEFAULT_HOST, int(port)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "address",
        nargs="?",
        default=f"{DEFAULT_HOST}:{DEFAULT_PORT}",
        type=parse_address,
        metavar="HOST[:PORT]",
        help=f"the daemon's socket server (default {DEFAULT_HOST}:{DEFAULT_PORT})",
    )
    parser.add_argument("--json", action="store_true", help="print the raw JSON lines")
    parser.add_argument(
        "--count", type=_count, default=0, metavar="N", help="stop after N frames (0 = never)"
    )


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number of frames, 0 or more")
    return int(text)


def _number(frame: Mapping[str, str], label: str) -> int | None:
    value = frame.get(label, "")
    return int(value) if value.isdigit() else None


def _joined(frame: Mapping[str, str], labels: tuple[str, ...], unit: str) -> str:
    values = [
        str(value) for value in (_number(frame, label) for label in labels) if value is not None
    ]
    return f"{'/'.join(values)} {unit}" if values else "-"


def describe(message: Mapping[str, object]) -> str:
    """One readable line: time, meter, tariff period, power, current, index."""
    frame: Mapping[str, str] = message.get("frame") or {}  # type: ignore[assignment]
    # A `[server] teleinfomonitor` line holds historic labels whatever the meter's mode.
    mapped = "mapped_from" in message
    if not mapped and (message.get("mode") == "standard" or "ADSC" in frame):
        meter = frame.get("ADSC", "-")
        period = frame.get("LTARF", "").strip() or frame.get("NTARF", "-")
        power = _number(frame, "SINSTS")
        currents = _joined(frame, ("IRMS1", "IRMS2", "IRMS3"), "A")
        index = _number(frame, "EAST")
    else:
        meter = frame.get("ADCO", "-")
        period = frame.get("PTEC", "-")
        power = _number(frame, "PAPP")
        currents = _joined(frame, ("IINST", "IINST1", "IINST2", "IINST3"), "A")
        indexes = [_number(frame, label) for label in HISTORIC_INDEXES]
        present = [value for value in indexes if value is not None]
        index = sum(present) if present else None
    stamp = str(message.get("timestamp", ""))[:19] or "-"
    power_text = "-" if power is None else f"{power} VA"
    index_text = "-" if index is None else f"{index / 1000:.3f} kWh"
    return f"{stamp}  {meter}  {period:<4}  {power_text:>8}  {currents:>10}  {index_text:>14}"


def follow(address: tuple[str, int]) -> Iterator[bytes]:
    """The lines of one connection, until the daemon hangs up (OSError on a network error)."""
    with socket.create_connection(address, timeout=CONNECT_TIMEOUT) as sock:
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sys.stderr.write(f"connected to {_show(address)}\n")
        with sock.makefile("rb") as stream:
            while True:
                line = stream.readline(MAX_LINE + 1)
                if not line.endswith(b"\n"):
                    if len(line) > MAX_LINE:
                        raise OSError(f"a line longer than {MAX_LINE} bytes: not a teleinforeader")
                    return
                yield line


def _show(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _write(text: str) -> None:
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise OutputClosedError from None


def _print_frames(args: argparse.Namespace) -> int:
    printed = 0
    delay = FIRST_RETRY
    while True:
        try:
            for line in follow(args.address):
                message = json.loads(line)
                if "error" in message:
                    raise RefusedError(str(message["error"]))
                _write(line.decode() if args.json else describe(message) + "\n")
                delay = FIRST_RETRY
                printed += 1
                if printed == args.count:
                    return 0
            problem = "the daemon closed the connection"
        except RefusedError as refusal:
            if str(refusal) == "address not allowed":
                sys.stderr.write(f"{_show(args.address)} refuses this machine (server.allow)\n")
                return EX_NOPERM
            problem = f"refused: {refusal}"
        except ValueError as error:  # json.JSONDecodeError, UnicodeDecodeError
            problem = f"not a JSON line ({error})"
        except OSError as error:
            problem = f"{_show(args.address)}: {error.strerror or error}"
        sys.stderr.write(f"{problem}; retrying in {delay:g} s\n")
        time.sleep(delay)
        delay = min(delay * 2, LAST_RETRY)


def run(args: argparse.Namespace) -> int:
    try:
        return _print_frames(args)
    except KeyboardInterrupt:
        return 0
    except OutputClosedError:
        # What is left in the buffer would fail again at exit: send it nowhere instead.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
