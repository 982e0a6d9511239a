"""A meter on a pty inside the live container, run there by systemd-run with the system's Python.

The pty's slave end gets what a UART has on Debian (root:dialout, 0660) and a link, such as
/dev/serial0 or /dev/serial/by-id/usb-..., points at it; the master end sends a historic BASE
frame every PERIOD seconds, the index one Wh up each time, so that every frame stored or served
is recognisable. Only the standard library and the project's own encoder (teleinforeader.tic,
stdlib-only) are needed: it runs before the installer has made any virtual environment.

    python3 meter.py LINK ADCO
"""

from __future__ import annotations

import contextlib
import grp
import os
import signal
import sys
import time
import tty
from pathlib import Path

from teleinforeader.tic import encode_frame

PERIOD = 0.5  # seconds between two frames (a real line sends one every 1 to 2 s)


def frame(adco: str, index: int) -> bytes:
    return encode_frame(
        {
            "ADCO": adco,
            "OPTARIF": "BASE",
            "ISOUSC": "30",
            "BASE": f"{index:09d}",
            "PTEC": "TH..",
            "IINST": "005",
            "IMAX": "090",
            "PAPP": "01150",
            "HHPHC": "A",
            "MOTDETAT": "000000",
        },
        "historic",
    )


def main(link: Path, adco: str) -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)  # nobody reading: the line goes on, as a meter's does
    name = os.ttyname(slave)
    os.chown(name, 0, grp.getgrnam("dialout").gr_gid)
    os.chmod(name, 0o660)
    link.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        link.unlink()
    link.symlink_to(name)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"meter {adco} on {name}, linked as {link}", flush=True)
    index = 1_000_000
    try:
        while True:
            with contextlib.suppress(BlockingIOError):
                os.write(master, frame(adco, index))
            index += 1
            time.sleep(PERIOD)
    finally:
        if link.is_symlink() and os.readlink(link) == name:
            link.unlink()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
