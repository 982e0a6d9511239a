"""Record a capture the way users make one for a bug report, through a real cooked tty:

    stty -F /dev/ttyAMA0 1200 sane evenp parenb cs7 -crtscts; cat /dev/ttyAMA0 > capture

The "meter" writes into the master side of a pty, the real `stty` and `cat` run on its slave
side, so the kernel's own line discipline does the damage: CR read as LF, ETX taken for ^C (and
EOT for ^D) and dropped. The bytes go in at a line's pace as far as the tty can tell: with
`noflsh` off, ^C flushes whatever is unread, which on a 1200-baud line is next to nothing, so
before each ETX `cat` has written out every byte before it, and nothing follows the ETX until
the tty has dealt with it (it echoes "^C" then). For captures without other control bytes
(which a tty might also eat), so that the count of what `cat` wrote is known.
"""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import termios
import threading

from tests.support.waiting import wait_for

SENTINEL = b"\nend of the test capture\n"
_ETX, _EOT = 0x03, b"\x04"


def _unread(fd: int) -> int:
    """Bytes of complete lines the tty holds for its reader."""
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


def record_through_cooked_tty(data: bytes) -> bytes:
    """What `cat` writes when `data` arrives on a tty set up the seed's way."""
    master, slave = os.openpty()
    try:
        name = os.ttyname(slave)
        # A pty keeps no parity, character size or flow control, so stty reports that it could
        # not do everything; the line discipline's settings, which do the damage, are applied.
        subprocess.run(
            ["stty", "-F", name, "1200", "sane", "evenp", "parenb", "cs7", "-crtscts"],
            stderr=subprocess.DEVNULL,
            check=False,
        )
        iflag, _, _, lflag = termios.tcgetattr(slave)[:4]
        assert iflag & termios.ICRNL and lflag & termios.ICANON and lflag & termios.ISIG
        cat = subprocess.Popen(["cat", name], stdout=subprocess.PIPE)
        captured, echoed = bytearray(), bytearray()
        reader = threading.Thread(target=_collect, args=(cat.stdout, captured), daemon=True)
        echo = threading.Thread(target=_drain, args=(master, echoed), daemon=True)  # `sane` echoes
        reader.start()
        echo.start()
        start, interrupts, kept = 0, 0, 0
        for position, byte in enumerate(data):
            if byte != _ETX:
                continue
            _write_all(master, data[start:position])
            kept += position - start - data.count(_EOT, start, position)
            wait_for(lambda: len(captured) >= kept, what="cat read every line before ETX")  # noqa: B023
            _write_all(master, b"\x03")
            interrupts += 1
            wait_for(lambda: echoed.count(b"^C") == interrupts, what="the tty took ^C")  # noqa: B023
            start = position + 1
        _write_all(master, data[start:] + SENTINEL)
        wait_for(lambda: SENTINEL in captured, what="the end of the capture")
        cat.terminate()  # the user's Ctrl-C
        cat.wait(10)
        reader.join(10)
    finally:
        os.close(slave)
        os.close(master)
    return bytes(captured[: captured.index(SENTINEL)])


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view[:256]) :]


def _collect(stream, captured: bytearray) -> None:
    for chunk in iter(lambda: stream.read1(4096), b""):
        captured += chunk


def _drain(fd: int, echoed: bytearray) -> None:
    try:
        for chunk in iter(lambda: os.read(fd, 4096), b""):
            echoed += chunk
    except OSError:  # the master was closed
        pass
