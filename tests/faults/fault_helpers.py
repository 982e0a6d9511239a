"""The daemon as a black box for the fault and load tests: a real process started the way
systemd starts it, its log and --print output read live, its descriptors, threads and memory
read from /proc; configuration files and captures written for each test."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import tty
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Callable

from tests.support.captures import historic_frame, write_capture
from tests.support.mariadb_server import MariaDBServer
from tests.support.server_process import free_port
from tests.support.waiting import wait_for

__all__ = ["free_port", "historic_frame", "wait_for", "write_capture"]

Sections = Mapping[str, Mapping[str, Any]]


class PluggableMeter:
    """A meter behind a USB adapter: a pty (the adapter's tty) named by a stable symlink, like
    /dev/serial/by-id/...; unplugging closes both ends, the name then points nowhere."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.index = 1_000_000
        self._master = self._slave = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def plug(self) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        if self.link.is_symlink():
            self.link.unlink()
        self.link.symlink_to(os.ttyname(self._slave))
        self._stop.clear()
        self._thread = threading.Thread(target=self._send, args=(self._master,), daemon=True)
        self._thread.start()

    def _send(self, master: int) -> None:
        while not self._stop.wait(0.02):
            # Nobody reads between two opens and the buffer fills: the line goes on anyway.
            with contextlib.suppress(BlockingIOError):
                os.write(master, historic_frame(self.index))
            self.index += 1

    def unplug(self) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(5)
        os.close(self._master)
        os.close(self._slave)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return json.dumps(str(value))


def write_config(path: Path, sections: Sections) -> Path:
    """A configuration file of `sections` ("database.mariadb" for a subsection). The web page,
    on by default on port 8080, stays off unless `sections` has [http]: a fixed port would
    collide between test runs sharing the machine."""
    lines = []
    sections = {"http": {"enabled": False}, **sections}
    for section, keys in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {_toml(value)}" for key, value in keys.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def mariadb_sections(server: MariaDBServer, database: str, **settings: Any) -> dict[str, Any]:
    """[database] for the throwaway server, every frame stored, quick reconnections (with
    `settings` on top), and its [database.mariadb]."""
    return {
        "database": {
            "backend": "mariadb",
            "store_interval": 0,
            "reconnect_delay": 0.1,
            "reconnect_max_delay": 0.5,
            **settings,
        },
        "database.mariadb": {
            "host": server.host,
            "port": server.port,
            "user": server.user,
            "password": server.password,
            "database": database,
            "connect_timeout": 2,
        },
    }


def daemon_environment(**extra: str) -> dict[str, str]:
    environ = {
        name: value
        for name, value in os.environ.items()
        if name not in {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "STATE_DIRECTORY"}
    }
    environ.update(extra)
    return environ


class DaemonProcess:
    """`python -m teleinforeader --config FILE [--print]`, its output read by two threads."""

    def __init__(
        self,
        config: Path,
        *,
        print_frames: bool = False,
        environ: Mapping[str, str] | None = None,
        preexec_fn: Callable[[], None] | None = None,
    ) -> None:
        command = [sys.executable, "-m", "teleinforeader", "--config", str(config)]
        if print_frames:
            command.append("--print")
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(environ) if environ is not None else daemon_environment(),
            preexec_fn=preexec_fn,  # noqa: PLW1509 - only setrlimit/signal, no locks taken
        )
        self.pid = self.process.pid
        self.log: list[str] = []
        self.lines: list[bytes] = []
        self._pumps = [
            threading.Thread(target=self._pump, args=(self.process.stderr, self._log), daemon=True),
            threading.Thread(target=self._pump, args=(self.process.stdout, self.lines.append)),
        ]
        for pump in self._pumps:
            pump.daemon = True
            pump.start()

    def _log(self, line: bytes) -> None:
        self.log.append(line.decode(errors="replace").rstrip("\n"))

    @staticmethod
    def _pump(stream: Any, store: Callable[[bytes], None]) -> None:
        for line in iter(stream.readline, b""):
            store(line)

    # -- what it says ----------------------------------------------------------------------

    def log_lines(self, pattern: str, since: int = 0) -> list[str]:
        """The log lines matching `pattern`, from line number `since` on."""
        return [line for line in self.log[since:] if re.search(pattern, line)]

    def wait_log(
        self, pattern: str, timeout: float = 10.0, count: int = 1, since: int = 0
    ) -> list[str]:
        """The log lines matching `pattern` (from line `since`), once there are `count`."""
        wait_for(
            lambda: len(self.log_lines(pattern, since)) >= count or not self.alive(),
            timeout,
            f"{count} log line(s) matching {pattern!r}",
        )
        found = self.log_lines(pattern, since)
        assert len(found) >= count, f"the daemon exited: {self.log[-20:]}"
        return found

    def wait_counters(
        self, condition: Callable[[dict[str, int]], bool], timeout: float = 10.0, since: int = 0
    ) -> dict[str, int]:
        """The counters of the first summary line (from line `since`) meeting `condition`."""
        found: list[dict[str, int]] = []

        def met() -> bool:
            found[:] = [
                c for c in map(counters_of, self.log_lines("summary: ", since)) if condition(c)
            ]
            return bool(found) or not self.alive()

        wait_for(met, timeout, f"a summary line meeting {condition}; last: {self.log[-3:]}")
        assert found, f"the daemon exited: {self.log[-20:]}"
        return found[0]

    def frames(self) -> list[dict[str, Any]]:
        """The frames it printed (--print), complete lines only."""
        return [json.loads(line) for line in list(self.lines) if line.endswith(b"\n")]

    def summary(self) -> dict[str, int]:
        """The counters of the last summary or "stopped:" line."""
        return counters_of(self.log_lines(r"(summary|stopped): ")[-1])

    # -- what /proc says -------------------------------------------------------------------

    def descriptors(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def threads(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/task"))

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    # -- ending it -------------------------------------------------------------------------

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait(self, timeout: float = 30.0) -> int:
        try:
            status = self.process.wait(timeout)
        finally:
            self.kill()
        for pump in self._pumps:
            pump.join(5)
        return status

    def terminate(self, timeout: float = 30.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> DaemonProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


class LineClient:
    """A TCP client of the socket server that reads in its own thread; lines parsed at the end,
    so that a hundred of them keep up with the daemon on a small machine."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.received = bytearray()
        self.closed = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                self.received += data
        except OSError:
            pass
        finally:
            self.closed.set()

    def indexes(self) -> list[int]:
        """The BASE index of every complete frame line received."""
        lines = bytes(self.received).split(b"\n")[:-1]
        return base_indexes(line for line in map(json.loads, lines) if "frame" in line)

    def close(self) -> None:
        self.sock.close()
        self._thread.join(5)


def counters_of(line: str) -> dict[str, int]:
    """The name=value pairs of a summary line (a name twice: the last one wins)."""
    return {name: int(value) for name, value in re.findall(r"(\w+)=(\d+)", line)}


def base_indexes(frames: Iterable[Mapping[str, Any]]) -> list[int]:
    """The BASE index of each JSON frame line (the mark `write_capture` gives each frame)."""
    return [int(frame["frame"]["BASE"]) for frame in frames]


class SocketMeter:
    """A meter behind a ser2net-like TCP bridge: the daemon reads socket://127.0.0.1:PORT and
    the test decides when frames go out (`send(rate)`), keeping when each one was sent."""

    def __init__(self, first_index: int = 1_000_000) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.url = f"socket://127.0.0.1:{self.listener.getsockname()[1]}"
        self.sent: list[tuple[int, float]] = []  # (BASE index, time.monotonic() when sent)
        self._next_index = first_index
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection: socket.socket | None = None

    def send(self, rate: float) -> None:
        """Accept the daemon, then send `rate` frames a second until `stop()`."""
        self._thread = threading.Thread(target=self._send, args=(rate,), daemon=True)
        self._thread.start()

    def _send(self, rate: float) -> None:
        self.listener.settimeout(30)
        self._connection, _ = self.listener.accept()
        started = time.monotonic()
        while not self._stop.is_set():
            due = started + len(self.sent) / rate
            if self._stop.wait(max(0.0, due - time.monotonic())):
                break
            try:
                self._connection.sendall(historic_frame(self._next_index))
            except OSError:
                break
            self.sent.append((self._next_index, time.monotonic()))
            self._next_index += 1

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        if self._connection is not None:
            self._connection.close()
        self.listener.close()

    def indexes(self, until: float | None = None) -> list[int]:
        """The frames sent (before `until`, a time.monotonic() value)."""
        return [index for index, at in self.sent if until is None or at < until]
