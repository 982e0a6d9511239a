"""Start-up and idle cost: `--version`, `probe` and the daemon's time to READY=1, with and without
the package's byte-code, and the CPU a silent line costs.

The package is installed as a user gets it: the wheel built from this checkout, put by `pip
install` into a directory of its own ("with byte-code": compiled at install, pip's default;
"without": `--no-compile`, which Python then compiles on every start since it may not write
where the package lives, as under the unit's ProtectSystem=strict). The standard library keeps
its own byte-code in both. Each start is a real process, timed from exec, the median of STARTS:
`teleinforeader --version`; `teleinforeader probe --frames 1` on a pty where a meter sends a
historic frame every 20 ms (so its figure is start-up, opening the port and one frame); the
daemon as systemd runs it (a $NOTIFY_SOCKET datagram socket) until READY=1, with the serial
source on a pty whose master never writes (a meter unplugged from the shield), SQLite in a
temporary state directory, the socket server and the web server on loopback.

Idle CPU is utime + stime from /proc/PID/stat over IDLE_SECONDS: the supervisor sleeps on a
pipe and the source blocks in the kernel, so it should be close to zero (a Pi Zero is about
20x slower than a desktop: what costs 0.05 % here costs 1 % there).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.common import machine, print_table
from benchmarks.process import Daemon, free_port, write_config
from tests.support.captures import historic_frame
from tests.support.packaging import pep517_build

STARTS = 5
IDLE_SECONDS = 30.0
PROBE_FRAME_PERIOD = 0.02  # seconds between two frames on the probed line
REPOSITORY = Path(__file__).resolve().parents[1]


def _write_config(directory: Path, device: str) -> Path:
    return write_config(
        directory,
        f'[source]\ntype = "serial"\ndevice = "{device}"\n[database]\nbackend = "sqlite"\n'
        f'[server]\nhost = "127.0.0.1"\nport = {free_port()}\n'
        f'[http]\nhost = "127.0.0.1"\nport = {free_port()}\n',  # on, as installed
    )


def install(wheel: Path, target: Path, compiled: bool) -> dict[str, str]:
    """`pip install` the wheel into `target`; the environment that runs that copy."""
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"),
            *("--disable-pip-version-check", "--target", str(target)),
            *(() if compiled else ("--no-compile",)),
            str(wheel),
        ],
        check=True,
    )
    return {"PYTHONPATH": str(target), "PYTHONDONTWRITEBYTECODE": "1"}


def _command_seconds(arguments: list[str], environ: dict[str, str], cwd: Path) -> float:
    """Exec to exit of `python -m teleinforeader ARGUMENTS` of the installed copy."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "teleinforeader", *arguments],
        cwd=cwd,
        env={**os.environ, **environ},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    return time.perf_counter() - start


class BusyLine(threading.Thread):
    """A pty on which a historic meter sends a frame every PROBE_FRAME_PERIOD seconds."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.master, self.slave = os.openpty()
        self.device = os.ttyname(self.slave)
        self._done = threading.Event()

    def run(self) -> None:
        index = 1_000_000
        while not self._done.wait(PROBE_FRAME_PERIOD):
            os.write(self.master, historic_frame(index))
            index += 1

    def close(self) -> None:
        self._done.set()
        self.join()
        os.close(self.master)
        os.close(self.slave)


def start_up(directory: Path, wheel: Path, compiled: bool) -> list[float]:
    """Median seconds of --version, probe, and exec to READY=1, for one install of the wheel."""
    environ = install(wheel, directory / ("compiled" if compiled else "source"), compiled)
    starts = range(STARTS)
    version = statistics.median(_command_seconds(["--version"], environ, directory) for _ in starts)
    line = BusyLine()
    line.start()
    try:
        probe = ["probe", line.device, "--mode", "historic", "--frames", "1", "--duration", "10"]
        probed = statistics.median(_command_seconds(probe, environ, directory) for _ in starts)
    finally:
        line.close()
    master, slave = os.openpty()  # the master writes nothing: a silent line
    try:
        config = _write_config(directory, os.ttyname(slave))
        readies = []
        for _ in starts:
            daemon = Daemon(directory, config, extra_environ=environ, cwd=directory)
            readies.append(daemon.seconds_to_ready())
            daemon.stop()
    finally:
        os.close(master)
        os.close(slave)
    return [version, probed, statistics.median(readies)]


def idle_cost(directory: Path) -> list[tuple[str, object]]:
    master, slave = os.openpty()
    try:
        config = _write_config(directory, os.ttyname(slave))
        stops = []
        for _ in range(STARTS):
            daemon = Daemon(directory, config)
            daemon.seconds_to_ready()
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
    return [
        ("SIGTERM to exit, median of 5 (ms)", statistics.median(stops) * 1000),
        (f"CPU over {IDLE_SECONDS:.0f} s idle (ms)", idle_seconds * 1000),
        ("idle CPU (% of one core)", f"{idle_seconds / IDLE_SECONDS * 100:.3f}"),
        ("resident memory when idle (KiB)", rss),
    ]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        wheel = pep517_build("build_wheel", REPOSITORY, directory)
        compiled = start_up(directory, wheel, compiled=True)
        source = start_up(directory, wheel, compiled=False)
        idle = idle_cost(directory)
    names = ("teleinforeader --version", "probe, to its first frame", "run, exec to READY=1")
    print_table(
        f"Start-up, median of {STARTS} starts (ms from exec)",
        ["command", "with byte-code", "without byte-code"],
        [(name, a * 1000, b * 1000) for name, a, b in zip(names, compiled, source)],
    )
    print_table(
        "Daemon idle cost (serial source on a silent pty, SQLite, socket server)",
        ["measure", "value"],
        idle,
    )


if __name__ == "__main__":
    print(machine())
    main()
