"""The daemon as systemd runs it: a real process, real signals, a real $NOTIFY_SOCKET."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon.daemon_helpers import NotifySocket
from tests.faults.fault_helpers import daemon_environment
from tests.support.waiting import wait_for

DATA = Path(__file__).parent.parent / "data"
CAPTURE = DATA / "historic-tempo-pyteleinfo-captured_frames.bin"


def write_config(tmp_path: Path, source: str) -> Path:
    config = tmp_path / "teleinforeader.toml"
    config.write_text(
        f"{source}\n"
        '[database]\nbackend = "sqlite"\nstore_interval = 0\nflush_interval = 0.2\n'
        "[server]\nenabled = false\n[http]\nenabled = false\n"
        f'[daemon]\nstate_directory = "{tmp_path / "state"}"\nstatus_interval = 1\n'
    )
    return config


def replay_config(tmp_path: Path) -> Path:
    # 20x the line pace: a frame every 0.1 s, looping so that only a signal stops it.
    return write_config(
        tmp_path, f'[source]\ntype = "replay"\nfile = "{CAPTURE}"\nspeed = 20\nloop = true\n'
    )


@contextlib.contextmanager
def daemon(config: Path, environ: dict[str, str], *options: str) -> Iterator[subprocess.Popen]:
    """The daemon process, killed on the way out if a failed test left it running."""
    process = subprocess.Popen(
        [sys.executable, "-m", "teleinforeader", "--config", str(config), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environ,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    manager = NotifySocket(tmp_path / "notify")
    yield manager
    manager.close()


def frames_in_status(message: dict[str, str]) -> int:
    return int(message["STATUS"].split(" frames")[0])


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_daemon_cleanly_with_every_frame_flushed(
    tmp_path: Path, notify_socket: NotifySocket, signum: signal.Signals
) -> None:
    environ = daemon_environment(**notify_socket.environ(watchdog_usec=400_000))
    with daemon(replay_config(tmp_path), environ, "--print") as process:
        assert notify_socket.receive_until("READY")["READY"] == "1"
        ping = notify_socket.receive_until("WATCHDOG")
        while frames_in_status(ping) < 15:  # live counters, refreshed with each ping
            ping = notify_socket.receive_until("WATCHDOG")
        process.send_signal(signum)
        assert notify_socket.receive_until("STOPPING")["STOPPING"] == "1"
        stdout, stderr = process.communicate(timeout=10)
    log = stderr.decode()
    assert process.returncode == 0, log
    assert f"stopping: received {signum.name}" in log
    assert "summary: frames=" in log  # status_interval = 1 s
    stopped = re.search(r"stopped: frames=(\d+) .*published=(\d+)", log)
    assert stopped, log
    decoded, published = int(stopped[1]), int(stopped[2])
    lines = [json.loads(line) for line in stdout.decode().splitlines()]
    assert len(lines) == published == decoded  # the guard trims frames, never drops one
    assert {line["meter"] for line in lines} == {"021861348497"}
    database = sqlite3.connect(tmp_path / "state" / "teleinforeader.sqlite3")
    try:
        [(rows,)] = database.execute("SELECT COUNT(*) FROM teleinfoframes").fetchall()
    finally:
        database.close()
    assert rows == published


def test_the_state_directory_from_systemd_is_used(
    tmp_path: Path, notify_socket: NotifySocket
) -> None:
    state = tmp_path / "systemd-state"
    environ = daemon_environment(STATE_DIRECTORY=str(state), **notify_socket.environ())
    with daemon(replay_config(tmp_path), environ) as process:
        notify_socket.receive_until("READY")
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr.decode()
    assert (state / "teleinforeader.sqlite3").is_file()
    assert not (tmp_path / "state").exists()


def test_the_threads_carry_their_names_in_the_kernel(
    tmp_path: Path, notify_socket: NotifySocket
) -> None:
    """`top -H` and `ps -L` read /proc/PID/task/*/comm: each thread shows what it does."""
    with daemon(
        replay_config(tmp_path), daemon_environment(**notify_socket.environ()), "--print"
    ) as process:
        notify_socket.receive_until("READY")  # the threads are started, maybe not yet named
        tasks = Path(f"/proc/{process.pid}/task")
        # The kernel keeps 15 bytes of a name: "database-spiller" shows as "database-spille".
        wanted = {"reader", "database-writer", "database-spille", "print"}

        def names() -> set[str]:
            return {(task / "comm").read_text().strip() for task in tasks.iterdir()}

        wait_for(lambda: wanted <= names(), what=f"threads named {wanted}")
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr.decode()


def test_a_replay_that_ends_stops_the_daemon_with_status_0(tmp_path: Path) -> None:
    config = write_config(tmp_path, f'[source]\ntype = "replay"\nfile = "{CAPTURE}"\nspeed = 0\n')
    result = subprocess.run(
        [sys.executable, "-m", "teleinforeader", "--config", str(config), "--print"],
        capture_output=True,
        env=daemon_environment(),
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert len(result.stdout.splitlines()) == 10  # the capture holds 10 complete frames
    assert "the source ended" in result.stderr.decode()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('[source]\ntype = "serail"\n', 'did you mean "serial"'),
        ('[source]\ntype = "replay"\nfile = "/nonexistent/capture.bin"\n', "/nonexistent"),
    ],
)
def test_a_bad_configuration_exits_78_with_one_line(
    tmp_path: Path, source: str, message: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "teleinforeader", "--config", str(write_config(tmp_path, source))],
        capture_output=True,
        env=daemon_environment(),
        timeout=30,
        check=False,
    )
    assert result.returncode == 78
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert message in lines[0]
    assert result.stdout == b""


def test_an_uncreatable_state_directory_exits_73_with_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "teleinforeader", "--config", str(replay_config(tmp_path))],
        capture_output=True,
        env=daemon_environment(STATE_DIRECTORY=str(blocker / "state")),
        timeout=30,
        check=False,
    )
    assert result.returncode == 73
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert str(blocker / "state") in lines[0]


def test_a_dying_sink_makes_the_process_exit_1(tmp_path: Path) -> None:
    """`--print | head -1`: once stdout is closed the print sink is dead, and so the daemon."""
    with daemon(replay_config(tmp_path), daemon_environment(), "--print") as process:
        assert process.stdout is not None
        process.stdout.readline()
        process.stdout.close()
        _, stderr = process.communicate(timeout=10)
    log = stderr.decode()
    assert process.returncode == 1, log
    assert "stdout was closed" in log
    assert "the print sink died: exiting for a restart" in log
