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
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import machine, print_table

STARTS = 5
IDLE_SECONDS = 30.0
READY_TIMEOUT = 30.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _write_config(directory: Path, device: str) -> Path:
    config = directory / "teleinforeader.toml"
    config.write_text(
        f'[source]\ntype = "serial"\ndevice = "{device}"\n'
        f'[database]\nbackend = "sqlite"\n'
        f'[server]\nhost = "127.0.0.1"\nport = {_free_port()}\n'
        f'[daemon]\nstate_directory = "{directory / "state"}"\n'
    )
    return config


class _Daemon:
    """One daemon process with its own notify socket."""

    def __init__(self, directory: Path, config: Path) -> None:
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        address = directory / f"notify-{time.monotonic_ns()}"
        self.notify.bind(str(address))
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY", "WATCH"))}
        environ["NOTIFY_SOCKET"] = str(address)
        environ.pop("STATE_DIRECTORY", None)
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "teleinforeader", "--config", str(config)],
            env=environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def seconds_to_ready(self) -> float:
        self.notify.settimeout(READY_TIMEOUT)
        while b"READY=1" not in self.notify.recv(4096).split(b"\n"):
            pass
        return time.perf_counter() - self.started

    def cpu_ticks(self) -> int:
        """utime + stime of the process, in clock ticks (fields 14 and 15 of /proc/PID/stat)."""
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()  # the command name may contain spaces
        return int(fields[11]) + int(fields[12])

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self) -> float:
        """Send SIGTERM; the seconds until the process exited."""
        start = time.perf_counter()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self.notify.close()
        return time.perf_counter() - start


def main() -> None:
    master, slave = os.openpty()  # the master writes nothing: a silent line
    try:
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            config = _write_config(directory, os.ttyname(slave))
            starts, stops = [], []
            for _ in range(STARTS):
                daemon = _Daemon(directory, config)
                starts.append(daemon.seconds_to_ready())
                stops.append(daemon.stop())
            daemon = _Daemon(directory, config)
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
