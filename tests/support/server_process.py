"""What the throwaway servers of the tests and benchmarks (MariaDB, Mosquitto) share.

A server's program is found on the PATH or in the sbin directories, runs in the foreground on
free loopback ports, is ready when a probe says so, and stops on a signal (SIGTERM: a clean
shutdown; SIGKILL: a crash); a restart uses the same ports and data, so that an outage looks
like one to a client. Standard library only: the benchmarks use it without pytest.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Callable

_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])


class ServerUnavailableError(RuntimeError):
    """The server's program is missing or the server would not start."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def find_program(*names: str, package: str) -> str:
    """The first of `names` installed; the error says which Debian package brings them."""
    for name in names:
        path = shutil.which(name, path=_SEARCH_PATH)
        if path:
            return path
    raise ServerUnavailableError(
        f"none of {', '.join(names)} found: install {package} (make test does it)"
    )


class ServerProcess:
    """One server process; a subclass builds its command line and says when it is ready."""

    name = "server"
    stop_timeout = 30.0  # seconds a clean shutdown may take before SIGKILL

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def _launch(self, command: Sequence[str], ready: Callable[[], bool], timeout: float) -> None:
        """Start `command` and poll `ready` until true; the process ending first, or `timeout`
        seconds going by, is a ServerUnavailableError with the end of its log."""
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while not ready():
            if self._process.poll() is not None:
                raise ServerUnavailableError(f"{self.name} exited at start-up: {self.log_tail()}")
            if time.monotonic() > deadline:
                self.kill()
                raise ServerUnavailableError(
                    f"{self.name} not serving after {timeout:g} s: {self.log_tail()}"
                )
            time.sleep(0.02)

    def start(self) -> None:
        raise NotImplementedError

    def stop(self, sig: int = signal.SIGTERM, timeout: float | None = None) -> None:
        """Stop the server with `sig` and wait for it (SIGKILL after `timeout` seconds)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(self.stop_timeout if timeout is None else timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def pause(self) -> None:
        """SIGSTOP: the server hangs with its connections open (a stuck, not a dead, server)."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return "(no log)"
