"""The daemon as systemd runs it, for the benchmarks: a real process with its own
$NOTIFY_SOCKET, whose messages a thread reads (READY=1, and the STATUS= line, which comes with
every watchdog ping when `watchdog_usec` is set), and its CPU, memory and threads from /proc.

CPU comes two ways: `cpu_ticks` (utime + stime of /proc/PID/stat, in clock ticks of 10 ms,
threads that ended included) for long runs, and `cpu_ns` (the same time, summed over the live
threads from /proc/PID/task/*/schedstat, in nanoseconds) for short windows of steady work, where
a tick is too coarse. The daemon's threads carry their names in the kernel (`comm`), so a
benchmark can follow one of them, e.g. how often the reader thread went to sleep.
"""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tests.support.server_process import free_port

__all__ = ["Daemon", "Launch", "children_cpu", "free_port", "write_config"]

# Keyword arguments of Daemon beyond its directory, configuration and watchdog: which copy of
# the package runs (`extra_environ`, e.g. PYTHONPATH, and a `cwd` outside this checkout).
Launch = dict[str, Any]

READY_TIMEOUT = 30.0


def write_config(directory: Path, sections: str, daemon: str = "") -> Path:
    """`directory`/teleinforeader.toml: the `sections` (TOML text), then [daemon] with the
    state directory in `directory` and the `daemon` lines."""
    config = directory / "teleinforeader.toml"
    config.write_text(f'{sections}[daemon]\nstate_directory = "{directory / "state"}"\n{daemon}')
    return config


def children_cpu() -> float:
    """Seconds of CPU (user + system) of the child processes that ended and were waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Daemon:
    """`python -m teleinforeader --config CONFIG`, notifying a socket in `directory`; `launcher`
    is a command that runs Python (e.g. valgrind and its options)."""

    def __init__(
        self,
        directory: Path,
        config: Path,
        watchdog_usec: int | None = None,
        *,
        python_options: tuple[str, ...] = (),
        launcher: tuple[str, ...] = (),
        extra_environ: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        address = directory / f"notify-{time.monotonic_ns()}"
        self.notify.bind(str(address))
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY", "WATCH"))}
        environ["NOTIFY_SOCKET"] = str(address)
        if watchdog_usec:
            environ["WATCHDOG_USEC"] = str(watchdog_usec)
        environ.pop("STATE_DIRECTORY", None)
        environ.update(extra_environ or {})
        self.ready = threading.Event()
        self.ready_at = 0.0
        self.status = ""
        self.started = time.perf_counter()
        command = [*launcher, sys.executable, *python_options, "-m", "teleinforeader"]
        self.process = subprocess.Popen(
            [*command, "--config", str(config)],
            env=environ,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        threading.Thread(target=self._listen, daemon=True).start()

    def _listen(self) -> None:
        self.notify.settimeout(0.5)
        while True:
            try:
                message = self.notify.recv(4096).decode()
            except socket.timeout:
                if self.process.poll() is not None:
                    return
                continue
            except OSError:  # closed by stop()
                return
            for line in message.splitlines():
                if line == "READY=1" and not self.ready.is_set():
                    self.ready_at = time.perf_counter()
                    self.ready.set()
                elif line.startswith("STATUS="):
                    self.status = line[len("STATUS=") :]

    def seconds_to_ready(self) -> float:
        if not self.ready.wait(READY_TIMEOUT):
            raise RuntimeError(f"no READY=1 within {READY_TIMEOUT:.0f} s")
        return self.ready_at - self.started

    def frames(self) -> int:
        """The frame count of the last STATUS= line ("N frames, ...")."""
        return int(self.status.split(" frames")[0]) if " frames" in self.status else 0

    def cpu_ticks(self) -> int:
        """utime + stime of the process, in clock ticks (fields 14 and 15 of /proc/PID/stat)."""
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()  # the command name may contain spaces
        return int(fields[11]) + int(fields[12])

    def cpu_ns(self, thread_id: int | None = None) -> int:
        """CPU time of the live threads (or of one), in nanoseconds (the first field of each
        schedstat)."""
        total = 0
        tasks = Path(f"/proc/{self.process.pid}/task")
        for task in tasks.iterdir() if thread_id is None else [tasks / str(thread_id)]:
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, IndexError, ValueError):  # a thread that just ended
                continue
        return total

    def thread_ids(self, name: str) -> list[int]:
        """The kernel ids of the daemon's threads called `name`."""
        ids = []
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            try:
                if (task / "comm").read_text().strip() == name:
                    ids.append(int(task.name))
            except OSError:
                continue
        return ids

    def sleeps(self, thread_id: int | None = None) -> int:
        """Voluntary context switches (each time a thread blocked and was woken again) of one
        thread, or of every live thread."""
        tasks = Path(f"/proc/{self.process.pid}/task")
        chosen = [tasks / str(thread_id)] if thread_id is not None else list(tasks.iterdir())
        total = 0
        for task in chosen:
            try:
                status = (task / "status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    total += int(line.split()[1])
        return total

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
