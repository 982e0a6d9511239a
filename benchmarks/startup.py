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

Where valgrind is installed, the daemon's start is also counted in instructions, which the
machine's other work does not change: callgrind runs it once per install and dumps its counts
before the first sendto() (READY=1 is the daemon's first datagram), all threads together.

`--against REVISION` compares with the code of another commit (`git archive` of it, built and
installed the same way): both run in one process, alternating over ROUNDS rounds, and each
figure is the median of the rounds, with this checkout's over the revision's as a ratio.

Idle CPU (not measured with `--against`) is utime + stime from /proc/PID/stat over
IDLE_SECONDS: the supervisor sleeps on a pipe and the source blocks in the kernel, so it should
be close to zero (a Pi Zero is about 20x slower than a desktop: what costs 0.05 % here costs 1 %
there).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.common import machine, print_table
from benchmarks.process import Daemon, free_port, write_config
from tests.support.captures import historic_frame
from tests.support.packaging import pep517_build

STARTS = 5
ROUNDS = 5  # of a comparison with another commit
IDLE_SECONDS = 30.0
PROBE_FRAME_PERIOD = 0.02  # seconds between two frames on the probed line
REPOSITORY = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def silent_config(directory: Path) -> Iterator[Path]:
    """The daemon's configuration, its serial source a pty whose master writes nothing (a meter
    unplugged from the shield)."""
    master, slave = os.openpty()
    try:
        yield write_config(
            directory,
            f'[source]\ntype = "serial"\ndevice = "{os.ttyname(slave)}"\n'
            f'[database]\nbackend = "sqlite"\n'
            f'[server]\nhost = "127.0.0.1"\nport = {free_port()}\n'
            f'[http]\nhost = "127.0.0.1"\nport = {free_port()}\n',  # on, as installed
        )
    finally:
        os.close(master)
        os.close(slave)


def build_wheel(directory: Path, revision: str | None) -> Path:
    """The wheel of this checkout, or of `revision` of its repository."""
    tree = REPOSITORY
    if revision is not None:
        tree = directory / f"tree-{revision}"
        tree.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "-C", str(REPOSITORY), "archive", revision], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    wheels = directory / f"wheel-{revision or 'checkout'}"  # both wheels have the same name
    wheels.mkdir(parents=True)
    return pep517_build("build_wheel", tree, wheels)


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


def start_up(directory: Path, environ: dict[str, str]) -> list[float]:
    """Median seconds of --version, probe, and exec to READY=1, for one installed copy."""
    starts = range(STARTS)
    version = statistics.median(_command_seconds(["--version"], environ, directory) for _ in starts)
    line = BusyLine()
    line.start()
    try:
        probe = ["probe", line.device, "--mode", "historic", "--frames", "1", "--duration", "10"]
        probed = statistics.median(_command_seconds(probe, environ, directory) for _ in starts)
    finally:
        line.close()
    readies = []
    with silent_config(directory) as config:
        for _ in starts:
            daemon = Daemon(directory, config, extra_environ=environ, cwd=directory)
            readies.append(daemon.seconds_to_ready())
            daemon.stop()
    return [version, probed, statistics.median(readies)]


def instructions_to_ready(directory: Path, environ: dict[str, str]) -> int:
    """Instructions of one installed copy's daemon, all threads, from exec to the sendto() of
    READY=1, as callgrind counts them."""
    counts = directory / "callgrind"
    launcher = ("valgrind", "--tool=callgrind", "--dump-before=sendto")
    with silent_config(directory) as config:
        daemon = Daemon(
            directory,
            config,
            launcher=(*launcher, f"--callgrind-out-file={counts}.%p"),
            extra_environ=environ,
            cwd=directory,
        )
        daemon.seconds_to_ready()
        daemon.stop()
    first_dump = Path(f"{counts}.{daemon.process.pid}.1").read_text()
    return next(int(line.split()[1]) for line in first_dump.splitlines() if line[:8] == "summary:")


def idle_cost(directory: Path) -> list[tuple[str, object]]:
    with silent_config(directory) as config:
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
    return [
        ("SIGTERM to exit, median of 5 (ms)", statistics.median(stops) * 1000),
        (f"CPU over {IDLE_SECONDS:.0f} s idle (ms)", idle_seconds * 1000),
        ("idle CPU (% of one core)", f"{idle_seconds / IDLE_SECONDS * 100:.3f}"),
        ("resident memory when idle (KiB)", rss),
    ]


def main(against: str | None = None) -> None:
    builds = ([against] if against else []) + ["checkout"]
    counted = shutil.which("valgrind") is not None
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        copies = {}  # (build, with byte-code) -> the environment that runs that install
        for build in builds:
            wheel = build_wheel(directory, against if build == against else None)
            for compiled in (True, False):
                target = directory / f"{build}-{'compiled' if compiled else 'source'}"
                copies[build, compiled] = install(wheel, target, compiled)
        rounds: dict[tuple[str, bool], list[list[float]]] = {copy: [] for copy in copies}
        for _ in range(ROUNDS if against else 1):
            for copy, environ in copies.items():
                rounds[copy].append(start_up(directory, environ))
        figures = {
            copy: [statistics.median(column) * 1000 for column in zip(*timings)]
            for copy, timings in rounds.items()
        }
        if counted:
            for copy, environ in copies.items():
                figures[copy].append(instructions_to_ready(directory, environ) / 1e6)
        idle = None if against else idle_cost(directory)
    names = ["teleinforeader --version", "probe, to its first frame", "run, exec to READY=1"]
    names += ["run, million instructions to READY=1"] if counted else []
    header, columns = ["command"], []
    for compiled in (True, False):
        header += [f"{build}, {'with' if compiled else 'without'} byte-code" for build in builds]
        header += ["ratio"] if against else []
        columns.append([figures[build, compiled] for build in builds])
    rows = []
    for index, name in enumerate(names):
        row: list[object] = [name]
        for values in columns:
            row += [value[index] for value in values]
            row += [values[1][index] / values[0][index]] if against else []
        rows.append(row)
    medians = f"medians of {ROUNDS} alternating rounds of " if against else ""
    print_table(f"Start-up, {medians}the median of {STARTS} starts (ms from exec)", header, rows)
    if not counted:
        print("valgrind is not installed: no instruction count\n")
    if idle is not None:
        print_table(
            "Daemon idle cost (serial source on a silent pty, SQLite, socket server)",
            ["measure", "value"],
            idle,
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", metavar="REVISION", help="compare with this commit's code")
    print(machine())
    main(parser.parse_args().against)
