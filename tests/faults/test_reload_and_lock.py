"""The daemon as systemd drives it: SIGHUP reloads in place and loses nothing, a broken
configuration is refused while the running one stays, a second daemon on the same state
directory is turned away naming the first, and a signal in the first moments of start-up
ends the process quietly."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.faults.fault_helpers import (
    DaemonProcess,
    daemon_environment,
    wait_for,
    write_capture,
    write_config,
)

EX_CANTCREAT = 73
# Code of ours that runs after the handlers: all but the package's first lines, which set them.
OUR_CODE = re.compile(r'File "[^"]*/teleinforeader/(?!__init__\.py)[^"]*\.py"')
# What the interpreter says when a signal ends it while it imports runpy for -m.
PYTHONS_OWN_START_FAILURE = "Could not import runpy module"


def replay_config(tmp_path: Path, **daemon: object) -> Path:
    capture = tmp_path / "capture.bin"
    if not capture.exists():
        write_capture(capture, 20_000)  # more than the test plays
    return write_config(
        tmp_path / "teleinforeader.toml",
        {
            "source": {"type": "replay", "file": str(capture), "speed": 200},
            "database": {"backend": "sqlite", "store_interval": 0, "flush_interval": 0.5},
            "server": {"enabled": False},
            "daemon": {"state_directory": str(tmp_path / "state"), **daemon},
        },
    )


def stored_indexes(tmp_path: Path) -> set[int]:
    database = sqlite3.connect(tmp_path / "state" / "teleinforeader.sqlite3")
    try:
        rows = database.execute("SELECT total_base_index_in_wh FROM teleinfoframes").fetchall()
    finally:
        database.close()
    return {row[0] for row in rows}


def test_sighup_reloads_in_place_and_loses_nothing(tmp_path: Path) -> None:
    config = replay_config(tmp_path)
    with DaemonProcess(config, print_frames=True) as daemon:
        daemon.wait_log("ready: the sinks run")
        wait_for(lambda: len(daemon.frames()) >= 100, 30, "100 frames")
        daemon.process.send_signal(signal.SIGHUP)
        daemon.wait_log("reloading: starting again", timeout=30)
        daemon.wait_log("ready: the sinks run", count=2, timeout=30)
        assert daemon.alive()  # the same process (PID), running the configuration anew
        wait_for(lambda: len(daemon.log_lines("stopped: ")) == 1, 10, "the first run's end")
        status = daemon.terminate()
    assert status == 0
    stopped = daemon.log_lines("stopped: ")
    assert len(stopped) == 2
    assert all("database: backlog=0 " in line for line in stopped), stopped
    # Every frame either run published is in the database: nothing waited in memory at exec.
    # (A frame published without its index, which the guard could not confirm, has none.)
    printed = {int(f["frame"]["BASE"]) for f in daemon.frames() if "BASE" in f["frame"]}
    assert stored_indexes(tmp_path) - {None} == printed
    assert "Traceback" not in "\n".join(daemon.log)


def test_sighup_with_a_broken_configuration_keeps_the_running_one(tmp_path: Path) -> None:
    config = replay_config(tmp_path)
    with DaemonProcess(config) as daemon:
        daemon.wait_log("ready: the sinks run")
        good = config.read_text()
        config.write_text(good.replace("enabled = false", "enabled = false\nport = 0"))
        daemon.process.send_signal(signal.SIGHUP)
        (refused,) = daemon.wait_log("reload refused")
        assert "[server] port: expected an integer from 1 to 65535, found 0" in refused
        before = len(daemon.log)
        time.sleep(0.5)  # a reload would have logged by now; the daemon goes on instead
        assert daemon.alive() and not daemon.log_lines("reloading|stopping", since=before)
        status = daemon.terminate()
    assert status == 0


def hangup_is_handled(pid: int) -> bool:
    """SIGHUP is blocked (the package holds it until `run` can act on it) or caught (`run`'s
    handler), as /proc shows the main thread: from then on a SIGHUP must never end the daemon."""
    fields = dict(
        line.split(":\t", 1)
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if ":\t" in line
    )
    bit = 1 << (signal.SIGHUP - 1)
    return any(int(fields[name], 16) & bit for name in ("SigBlk", "SigCgt"))


def settled(daemon: DaemonProcess) -> bool:
    """Running, every reload it began finished with the new process ready."""
    starts = daemon.log_lines("ready: the sinks run|reloading: starting again")
    return bool(starts) and "ready: the sinks run" in starts[-1]


def test_sighups_during_start_up_neither_end_nor_hang_the_daemon(tmp_path: Path) -> None:
    config = replay_config(tmp_path)
    for delay in (0.0, 0.02, 0.05, 0.15, 0.4):
        with DaemonProcess(config) as daemon:
            wait_for(lambda: hangup_is_handled(daemon.pid), 30, "SIGHUP held by the package")
            time.sleep(delay)
            for _ in range(4):  # while it imports, reads the file, starts threads, reloads
                daemon.process.send_signal(signal.SIGHUP)
                time.sleep(0.02)
            wait_for(lambda: settled(daemon) or not daemon.alive(), 60, "the daemon ready")
            assert daemon.alive(), (delay, daemon.log[-20:])
            assert daemon.terminate() == 0, (delay, daemon.log[-20:])
        assert "Traceback" not in "\n".join(daemon.log), delay
        assert len(daemon.log_lines("stopped: ")) == len(daemon.log_lines("ready: the sinks"))


def test_sigterm_during_a_reload_ends_the_daemon(tmp_path: Path) -> None:
    config = replay_config(tmp_path)
    with DaemonProcess(config) as daemon:
        daemon.wait_log("ready: the sinks run")
        daemon.process.send_signal(signal.SIGHUP)
        daemon.wait_log("stopping: received SIGHUP")
        daemon.process.send_signal(signal.SIGTERM)  # systemctl stop while it drains
        status = daemon.wait()
    assert status == 0
    # Either the reload was cancelled, or the new process got the signal the old one kept.
    assert len(daemon.log_lines("ready: the sinks run")) == len(daemon.log_lines("stopped: "))
    assert "Traceback" not in "\n".join(daemon.log)


def test_a_second_daemon_on_the_same_state_directory_is_turned_away(tmp_path: Path) -> None:
    config = replay_config(tmp_path)
    with DaemonProcess(config) as first:
        first.wait_log("ready: the sinks run")
        second = subprocess.run(
            [sys.executable, "-m", "teleinforeader", "--config", str(config)],
            capture_output=True,
            text=True,
            env=daemon_environment(),
            timeout=60,
            check=False,
        )
        assert second.returncode == EX_CANTCREAT
        assert f"is in use by process {first.pid}" in second.stderr
        assert "Traceback" not in second.stderr
        assert first.alive()
        assert first.terminate() == 0
    with DaemonProcess(config) as third:  # the lock went with the first process
        third.wait_log("ready: the sinks run")
        assert third.terminate() == 0


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_start_up_ends_the_process_quietly(tmp_path: Path, signum: int) -> None:
    config = replay_config(tmp_path)
    for delay in (0.0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3):
        process = subprocess.Popen(
            [sys.executable, "-m", "teleinforeader", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=daemon_environment(),
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
        )
        time.sleep(delay)
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
        # A SIGINT while the interpreter itself starts (before any code of ours runs, as when
        # it imports runpy for -m) gets Python's own traceback, or its "Could not import runpy
        # module" and exit status 1: nothing a program can catch. Once teleinforeader's code
        # runs, no traceback.
        if "Traceback" in err or err.startswith(PYTHONS_OWN_START_FAILURE):
            assert signum == signal.SIGINT and not OUR_CODE.search(err), (delay, err)
            continue
        # 0, or killed by the signal itself when it came before the interpreter ran any code.
        assert process.returncode in (0, -signum), (delay, process.returncode, err)
