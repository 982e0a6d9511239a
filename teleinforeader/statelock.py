"""One daemon per state directory: an exclusive lock on a file in it, naming its holder.

Two daemons on one state directory would both write the spool and the same SQLite file. The
lock is `flock` on `teleinforeader.pid` in the state directory, held for the process's life
(the kernel releases it however the process ends, so a crash leaves no stale lock); the file
holds the holder's PID, so that the second daemon can say which process has it.
"""

from __future__ import annotations

import fcntl
import os

LOCK_NAME = "teleinforeader.pid"


class StateLockedError(Exception):
    """Another process holds the lock; `holder` is its PID when the file names one."""

    def __init__(self, path: str, holder: int | None) -> None:
        self.path, self.holder = path, holder
        who = f"process {holder}" if holder else "another process"
        super().__init__(
            f"{os.path.dirname(path)} is in use by {who} (lock {path}): one daemon per state "
            "directory"
        )


def lock_state_directory(directory: str | os.PathLike[str]) -> int:
    """Take the lock; return its descriptor, to keep open (closing it releases the lock).

    Raises StateLockedError, or OSError when the file cannot be created."""
    path = os.path.join(directory, LOCK_NAME)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise StateLockedError(path, holder) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _holder(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
