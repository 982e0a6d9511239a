"""Logging set-up for the daemon and the commands: one line per record, on stderr.

Under systemd, stderr goes to the journal, which stamps every line itself: timestamps there would
be noise, but a `<N>` syslog priority prefix lets `journalctl -p warning` filter by level.
Anywhere else (a terminal, a redirected file) each line carries its own timestamp.
A fatal mistake found before logging is set up (a configuration error) is one bare line, written
by `print_error` with the error priority when it goes to the journal, so that `journalctl -p err`
shows why the service stopped.
"""

from __future__ import annotations

import logging
import os
import sys

# Configuration names -> logging levels, in increasing severity.
LOG_LEVELS: dict[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}

_SYSLOG_PRIORITIES = {
    logging.DEBUG: 7,
    logging.INFO: 6,
    logging.WARNING: 4,
    logging.ERROR: 3,
    logging.CRITICAL: 2,
}
_MESSAGE_FORMAT = "%(levelname)s [%(threadName)s] %(name)s: %(message)s"


class JournalFormatter(logging.Formatter):
    """No timestamp (the journal adds one) and a syslog priority prefix the journal understands."""

    def __init__(self) -> None:
        super().__init__(_MESSAGE_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        priority = _SYSLOG_PRIORITIES.get(record.levelno, 6)
        return f"<{priority}>{super().format(record)}"


def stderr_is_journal() -> bool:
    """True when stderr is the journal's stream, as systemd documents for JOURNAL_STREAM:
    the variable alone is not enough, a child may have inherited it with stderr redirected."""
    stream = os.environ.get("JOURNAL_STREAM", "")
    device, _, inode = stream.partition(":")
    try:
        status = os.fstat(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):  # no real file behind sys.stderr
        return False
    return f"{status.st_dev}:{status.st_ino}" == f"{device}:{inode}"


def print_error(message: str) -> None:
    """`message` as one line on stderr, at priority err (`<3>`) when stderr is the journal."""
    prefix = f"<{_SYSLOG_PRIORITIES[logging.ERROR]}>" if stderr_is_journal() else ""
    sys.stderr.write(f"{prefix}{message}\n")


def setup_logging(level: str) -> None:
    """Send every record at `level` (a name of LOG_LEVELS) and above to stderr, replacing any
    handler a previous call installed."""
    handler = logging.StreamHandler(sys.stderr)
    if stderr_is_journal():
        handler.setFormatter(JournalFormatter())
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {_MESSAGE_FORMAT}"))
    logging.basicConfig(level=LOG_LEVELS[level], handlers=[handler], force=True)
