"""Daemon start-up and idle cost: seconds from exec to READY=1, CPU used by a silent line.

The daemon runs as systemd runs it: a real process, a $NOTIFY_SOCKET datagram socket, the
serial source on a pty whose master never writes (a meter unplugged from the shield, or a line
between frames forever), SQLite in a temporary state directory, the socket server on loopback.
Start-up is the median of a few starts. Idle CPU is utime + stime from /proc/PID/stat over
IDLE_SECONDS: the supervisor sleeps on an Event and the source blocks in the kernel, so it
should be close to zero (a Pi Zero is about 20x slower than a desktop: what costs 0.05 % here
costs 1 % there).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.common import machine, print_table
from benchmarks.process import Daemon, free_port

STARTS = 5
IDLE_SECONDS = 30.0


def _write_config(directory: Path, device: str) -> Path:
    config = directory / "teleinforeader.toml"
    config.write_text(
        f'[source]\ntype = "serial"\ndevice = "{device}"\n'
        f'[database]\nbackend = "sqlite"\n'
        f'[server]\nhost = "127.0.0.1"\nport = {free_port()}\n'
        "[http]\nenabled = false\n"
        f'[daemon]\nstate_directory = "{directory / "state"}"\n'
    )
    return config


def main() -> None:
    master, slave = os.openpty()  # the master writes nothing: a silent line
    try:
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            config = _write_config(directory, os.ttyname(slave))
            starts, stops = [], []
            for _ in range(STARTS):
                daemon = Daemon(directory, config)
                starts.append(daemon.seconds_to_ready())
                stops.append(daemon.stop())
            daemon = Daemon(directory, config)
            daemon.seconds_to_ready()
            before = daemon.cpu_ticks()
            time.sleep(IDLE_SECONDS)
            idle_seconds = (daemon.cpu_ticks() - before) / os.sysconf("SC_CLK_TCK")
            rss = daemon.rss_kib()
            daemon.stop()
    finally:
        os.close(master)
        os.close(slave)
    print_table(
        "Daemon start-up and idle cost (serial source on a silent pty, SQLite, socket server)",
        ["measure", "value"],
        [
            ("exec to READY=1, median of 5 (ms)", statistics.median(starts) * 1000),
            ("SIGTERM to exit, median of 5 (ms)", statistics.median(stops) * 1000),
            (f"CPU over {IDLE_SECONDS:.0f} s idle (ms)", idle_seconds * 1000),
            ("idle CPU (% of one core)", f"{idle_seconds / IDLE_SECONDS * 100:.3f}"),
            ("resident memory when idle (KiB)", rss),
        ],
    )


if __name__ == "__main__":
    print(machine())
    main()
