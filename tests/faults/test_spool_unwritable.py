"""The database is away and the spool cannot be written: the disk is full, or the state
directory is read-only. The daemon says so clearly, once, and keeps broadcasting.

Both run everywhere, with the realest means the privileges allow: as root, a tiny tmpfs
(ENOSPC), then remounted read-only (EROFS); otherwise a file size limit on the daemon
(RLIMIT_FSIZE, EFBIG: what a full disk looks like to a process) and a directory without write
permission (EACCES; root ignores permissions, hence the tmpfs).
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.fault_helpers import (
    DaemonProcess,
    LineClient,
    daemon_environment,
    free_port,
    wait_for,
    write_capture,
    write_config,
)

SPOOL_ROOM = 16 * 1024  # bytes: a few dozen spooled rows
AS_ROOT = os.geteuid() == 0


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    """The state directory: a tmpfs of SPOOL_ROOM bytes as root, a plain directory otherwise."""
    directory = tmp_path / "state"
    directory.mkdir()
    if not AS_ROOT:
        yield directory
        return
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SPOOL_ROOM}", "tmpfs", str(directory)],
        check=True,
    )
    try:
        yield directory
    finally:
        subprocess.run(["umount", "--lazy", str(directory)], check=False)


def config(tmp_path: Path, state: Path, port: int) -> Path:
    capture = tmp_path / "capture.bin"
    write_capture(capture, 20_000)
    return write_config(
        tmp_path / "teleinforeader.toml",
        {
            "source": {"type": "replay", "file": str(capture), "speed": 100},
            "database": {
                "backend": "mariadb",
                "store_interval": 0,
                "flush_interval": 0.2,
                "memory_backlog": 10,
                "reconnect_delay": 0.2,
                "reconnect_max_delay": 0.5,
            },
            # Nothing listens there: the database is away for the whole test.
            "database.mariadb": {"host": "127.0.0.1", "port": free_port(), "connect_timeout": 1},
            "server": {"host": "127.0.0.1", "port": port, "line_gap": 0.25 / 100},  # as the replay
            "daemon": {"state_directory": str(state), "status_interval": 0.5},
        },
    )


def limit_file_size() -> None:
    """In the daemon: files stop growing at SPOOL_ROOM bytes, and writes past it fail with
    EFBIG instead of killing the process (SIGXFSZ ignored)."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (SPOOL_ROOM, SPOOL_ROOM))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def assert_clear_error_and_broadcast_goes_on(daemon: DaemonProcess, port: int, reason: str):
    daemon.wait_log("serving JSON lines")
    client = LineClient(port)
    (error,) = daemon.wait_log("cannot write the spool", timeout=30)
    assert reason in error and "frames wait in memory" in error, error
    received = len(client.indexes())
    wait_for(lambda: len(client.indexes()) >= received + 50, 30, "frames after the error")
    counters = daemon.wait_counters(lambda c: c.get("spool_errors", 0) >= 3, timeout=30)
    assert daemon.alive()
    assert daemon.terminate() == 0, daemon.log[-20:]
    client.close()
    assert len(daemon.log_lines("cannot write the spool")) == 1, "logged once, counted after"
    assert not daemon.log_lines("CRITICAL|Traceback")
    return counters


def test_a_full_disk_is_one_clear_error_and_the_daemon_keeps_broadcasting(
    tmp_path: Path, state: Path
) -> None:
    port = free_port()
    environ = daemon_environment(PYTHONDONTWRITEBYTECODE="1")
    preexec = None if AS_ROOT else limit_file_size
    with DaemonProcess(config(tmp_path, state, port), environ=environ, preexec_fn=preexec) as d:
        reason = "No space left on device" if AS_ROOT else "File too large"
        counters = assert_clear_error_and_broadcast_goes_on(d, port, reason)
    assert counters["spooled"] > 0  # the spool took rows until the disk was full


def test_a_read_only_state_directory_is_one_clear_error_and_the_daemon_keeps_broadcasting(
    tmp_path: Path, state: Path
) -> None:
    if AS_ROOT:
        subprocess.run(["mount", "-o", "remount,ro", str(state)], check=True)
    else:
        state.chmod(0o555)
    port = free_port()
    try:
        with DaemonProcess(config(tmp_path, state, port)) as daemon:
            reason = "Read-only file system" if AS_ROOT else "Permission denied"
            assert_clear_error_and_broadcast_goes_on(daemon, port, reason)
    finally:
        if not AS_ROOT:
            state.chmod(0o755)  # so that pytest can remove it
