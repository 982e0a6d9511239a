"""Files named by the configuration (the configuration itself, `password_file`, TLS files, a
capture to replay): regular files only, read with a size bound.

A path an admin mistyped, or an attacker chose, may name /dev/zero (read whole, it eats memory
until the process dies), a FIFO (opening it blocks until someone writes: start-up hangs for
ever), a directory or a socket. Each of those is refused before anything is read, with a reason
of a few words that fits in the one-line configuration error. /dev/null, the usual way to say
"an empty file" (`--config /dev/null`: the defaults), reads as one.
"""

from __future__ import annotations

import os
import stat

KIB = 1024
MIB = 1024 * KIB

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
)


class UnreadableFileError(Exception):
    """Why a file cannot be used; str() is the reason in a few words, without the path."""


def _not_regular(mode: int) -> str:
    kind = next((name for test, name in _KINDS if test(mode)), "not a file")
    return f"{kind}, not a regular file"


def _size(limit: int) -> str:
    if limit % MIB == 0:
        return f"{limit // MIB} MiB"
    return f"{limit // KIB} KiB" if limit % KIB == 0 else f"{limit} bytes"


def _usable(status: os.stat_result) -> bool:
    if stat.S_ISREG(status.st_mode):
        return True
    null = os.stat(os.devnull)
    return stat.S_ISCHR(status.st_mode) and status.st_rdev == null.st_rdev


def _open_regular(path: str | os.PathLike[str]) -> int:
    """A descriptor on the regular file at `path` (or /dev/null); never blocks, whatever `path`
    names."""
    try:
        status = os.stat(path)
        if not _usable(status):
            raise UnreadableFileError(_not_regular(status.st_mode))
        # O_NONBLOCK: were the file swapped for a FIFO since the stat, open would not wait.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as error:
        raise UnreadableFileError(error.strerror or str(error)) from None
    except ValueError:  # a NUL byte, which TOML strings may hold and paths may not
        raise UnreadableFileError("not a path") from None
    status = os.fstat(fd)
    if not _usable(status):
        os.close(fd)
        raise UnreadableFileError(_not_regular(status.st_mode))
    return fd


def check_regular_file(path: str | os.PathLike[str]) -> None:
    """Raise UnreadableFileError unless `path` is a regular file this process can open (for a
    file another library will read: a TLS certificate, a capture to replay)."""
    os.close(_open_regular(path))


def read_regular_file(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of the regular file at `path`; UnreadableFileError when it is not one, cannot
    be read, or holds more than `limit` bytes (then only `limit` + 1 bytes were read)."""
    fd = _open_regular(path)
    try:
        with os.fdopen(fd, "rb") as file:
            data = file.read(limit + 1)
    except OSError as error:
        raise UnreadableFileError(error.strerror or str(error)) from None
    if len(data) > limit:
        raise UnreadableFileError(f"larger than {_size(limit)}")
    return data
