"""Logging on stderr: timestamps on a terminal or in a file, none (and syslog priorities
instead) when stderr is the journal's stream."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# Logs at every level from the main thread and from a thread named "reader".
PROGRAM = """
import logging, sys, threading
from teleinforeader.logs import setup_logging
setup_logging(sys.argv[1])
log = logging.getLogger("teleinforeader.test")
log.debug("quiet detail")
log.info("started")
thread = threading.Thread(target=lambda: log.warning("no frame for %d s", 30), name="reader")
thread.start()
thread.join()
log.error("gave up")
"""


def _run(level: str, stderr_path: Path, journal_stream: str | None) -> list[str]:
    """The lines PROGRAM logs at `level`, stderr going to a file."""
    return _stderr_lines([sys.executable, "-c", PROGRAM, level], stderr_path, journal_stream)


def _stderr_lines(
    command: list[str], stderr_path: Path, journal_stream: str | None, status: int = 0
) -> list[str]:
    """What `command` writes on stderr (a file), ending with exit `status`."""
    environment = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
    with stderr_path.open("wb") as stderr:
        if journal_stream == "match":  # what systemd sets: this very file's device and inode
            stream = os.fstat(stderr.fileno())
            environment["JOURNAL_STREAM"] = f"{stream.st_dev}:{stream.st_ino}"
        elif journal_stream is not None:
            environment["JOURNAL_STREAM"] = journal_stream
        result = subprocess.run(command, stderr=stderr, env=environment, timeout=60, check=False)
    lines = stderr_path.read_text(encoding="utf-8").splitlines()
    assert result.returncode == status, lines
    return lines


STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} "


@pytest.mark.parametrize("journal_stream", [None, "1:2", "garbage"])
def test_outside_the_journal_every_line_has_a_timestamp(
    tmp_path: Path, journal_stream: str | None
) -> None:
    lines = _run("info", tmp_path / "stderr", journal_stream)
    assert len(lines) == 3
    assert re.fullmatch(STAMP + r"INFO \[MainThread\] teleinforeader\.test: started", lines[0])
    assert re.fullmatch(
        STAMP + r"WARNING \[reader\] teleinforeader\.test: no frame for 30 s", lines[1]
    )
    assert re.fullmatch(STAMP + r"ERROR \[MainThread\] teleinforeader\.test: gave up", lines[2])


def test_in_the_journal_lines_carry_a_priority_and_no_timestamp(tmp_path: Path) -> None:
    assert _run("debug", tmp_path / "stderr", "match") == [
        "<7>DEBUG [MainThread] teleinforeader.test: quiet detail",
        "<6>INFO [MainThread] teleinforeader.test: started",
        "<4>WARNING [reader] teleinforeader.test: no frame for 30 s",
        "<3>ERROR [MainThread] teleinforeader.test: gave up",
    ]


def test_level_filters_lower_records(tmp_path: Path) -> None:
    lines = _run("error", tmp_path / "stderr", "match")
    assert lines == ["<3>ERROR [MainThread] teleinforeader.test: gave up"]


@pytest.mark.parametrize("journal_stream", ["match", None])
def test_a_configuration_error_is_at_priority_err_in_the_journal(
    tmp_path: Path, journal_stream: str | None
) -> None:
    """Written before logging is set up, the one line still tells `journalctl -p err` why the
    service stopped; on a terminal it stays the bare line."""
    config = tmp_path / "broken.toml"
    config.write_text("[serveur]\nport = 1\n")
    command = [sys.executable, "-m", "teleinforeader", "--config", str(config)]
    lines = _stderr_lines(command, tmp_path / "stderr", journal_stream, status=78)
    prefix = "<3>" if journal_stream else ""
    assert lines == [f"{prefix}{config}: [serveur]: unknown section; did you mean [server]?"]


def test_a_source_that_cannot_work_is_at_priority_err_in_the_journal(tmp_path: Path) -> None:
    config = tmp_path / "teleinforeader.toml"
    config.write_text('[source]\ndevice = "nosuch://meter"\n[server]\nenabled = false\n')
    command = [sys.executable, "-m", "teleinforeader", "--config", str(config)]
    [line] = _stderr_lines(command, tmp_path / "stderr", "match", status=78)
    assert line.startswith("<3>source.device 'nosuch://meter': ")
