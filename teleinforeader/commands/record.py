"""`teleinforeader record DEVICE FILE [--duration S]`: the raw bytes of a line, for a bug report.

Every byte the port delivers goes to FILE as it arrives, untouched, so the capture shows the
problem exactly as the daemon met it; the replay source (`[source] type = "replay"`) plays it
back anywhere. The port is opened and its speed found by the daemon's own serial source, and
the probe's summary is printed at the end, so the report also says what the capture holds.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from teleinforeader.commands.probe import (
    MODES,
    Listening,
    listen,
    open_serial,
    positive,
    report,
)

EXIT_NOTHING = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("device", help="serial device or pyserial URL, e.g. /dev/serial0")
    parser.add_argument("file", type=Path, help="where to write the bytes (a new file)")
    parser.add_argument(
        "--duration",
        type=positive(float),
        metavar="SECONDS",
        help="stop after this long (default: at Ctrl-C)",
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="auto",
        help="historic or standard pins the speed, so that the capture holds no bytes read at "
        "the wrong speed while it is being detected (default: auto)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite FILE if it exists")


def run(args: argparse.Namespace) -> int:
    from teleinforeader.commands.probe import local_device_problems, print_advice
    from teleinforeader.logs import setup_logging
    from teleinforeader.tic.decoder import Decoder

    setup_logging("warning")
    problems = local_device_problems(args.device)
    if problems:
        print_advice(problems)
        return EXIT_NOTHING
    try:
        capture = args.file.open("wb" if args.force else "xb")
    except OSError as error:
        again = " (--force overwrites it)" if isinstance(error, FileExistsError) else ""
        sys.stderr.write(f"teleinforeader record: {args.file}: {error.strerror}{again}\n")
        return EXIT_NOTHING

    def write(data: bytes) -> None:
        capture.write(data)
        capture.flush()  # a capture cut short by a crash or a kill keeps what it had

    listening = Listening(Decoder(args.mode), wanted_frames=None, on_data=write)

    def stop(*_: object) -> None:
        listening.done.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    until = f"{args.duration:g} s" if args.duration is not None else "Ctrl-C"
    print(f"recording {args.device} to {args.file} until {until} ...", flush=True)
    with capture:
        listen(open_serial(args.device, args.mode, args.duration), listening, args.duration)
    print(report(listening))
    print(f"wrote {listening.bytes} bytes to {args.file}")
    return 0 if listening.bytes else EXIT_NOTHING
