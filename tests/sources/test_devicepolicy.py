"""A serial device refused with EPERM (a device policy), told apart from a missing group (EACCES).

Under systemd the first refusal of a device asks for one restart, remembered in the runtime
directory; the live test (tests/live) has systemd's own DeviceAllow= refuse a late driver. Here:
the decision on a real character device, and a real EPERM from the kernel through pyserial.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import logging
import os
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from source_helpers import DecodingProtocol, SourceThread, wait_for

from teleinforeader.sources.base import RestartRequiredError
from teleinforeader.sources.devicepolicy import MARK, DevicePolicy, is_policy_refusal
from teleinforeader.sources.serialport import SerialSource

DEVICE = "/dev/null"  # a real character device (1:3) that every machine has
NUMBER = f"{os.major(os.stat(DEVICE).st_rdev)}:{os.minor(os.stat(DEVICE).st_rdev)}"
# linux/fs.h: _IOR/_IOW('f', 1/2, long); the kernel reads and writes an int.
_LONG = struct.calcsize("l")
FS_IOC_GETFLAGS = (2 << 30) | (_LONG << 16) | (ord("f") << 8) | 1
FS_IOC_SETFLAGS = (1 << 30) | (_LONG << 16) | (ord("f") << 8) | 2
FS_IMMUTABLE_FL = 0x10


def test_the_first_refusal_of_a_device_asks_for_one_restart(tmp_path: Path) -> None:
    policy = DevicePolicy(str(tmp_path))
    with pytest.raises(RestartRequiredError, match="loaded after the service started") as asked:
        policy.refused(DEVICE)
    assert f"{DEVICE} (char {NUMBER})" in str(asked.value)
    assert (tmp_path / MARK).read_text() == f"{NUMBER}\n"


def test_refused_again_after_the_restart_it_names_the_unit_line_to_add(tmp_path: Path) -> None:
    with contextlib.suppress(RestartRequiredError):
        DevicePolicy(str(tmp_path)).refused(DEVICE)
    line = DevicePolicy(str(tmp_path)).refused(DEVICE)  # the restarted process: only the mark
    assert "still not permitted after a restart" in line
    assert "DeviceAllow=char-null rw" in line  # the driver's name, from the node's
    assert "sudo systemctl edit " in line


def test_a_device_that_opened_may_ask_again_later(tmp_path: Path) -> None:
    policy = DevicePolicy(str(tmp_path))
    with contextlib.suppress(RestartRequiredError):
        policy.refused(DEVICE)
    policy.opened()
    assert not (tmp_path / MARK).exists()
    with pytest.raises(RestartRequiredError):
        policy.refused(DEVICE)


def test_outside_systemd_nothing_is_restarted() -> None:
    line = DevicePolicy.from_environment({}).refused(DEVICE)
    assert line.startswith(f"opening {DEVICE} (char {NUMBER}) is not permitted")
    assert "DeviceAllow=" in line and "not its file permissions" in line


def test_the_runtime_directory_comes_from_systemd(tmp_path: Path) -> None:
    policy = DevicePolicy.from_environment({"RUNTIME_DIRECTORY": f"{tmp_path}:/run/other"})
    with pytest.raises(RestartRequiredError):
        policy.refused(DEVICE)
    assert (tmp_path / MARK).is_file()


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    """`path` with the immutable attribute (chattr +i): opening it for writing is EPERM, the
    errno a device policy gives. Root only, on a file system with attributes."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        flags = array.array("i", [0])
        try:
            fcntl.ioctl(descriptor, FS_IOC_GETFLAGS, flags, True)
            flags[0] |= FS_IMMUTABLE_FL
            fcntl.ioctl(descriptor, FS_IOC_SETFLAGS, flags)
        except OSError as exc:
            pytest.skip(f"cannot make {path} immutable here ({exc}): no EPERM to test with")
        try:
            yield
        finally:
            flags[0] &= ~FS_IMMUTABLE_FL
            fcntl.ioctl(descriptor, FS_IOC_SETFLAGS, flags)
    finally:
        os.close(descriptor)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can set the immutable attribute")
def test_a_real_eperm_is_a_policy_refusal_not_a_missing_group(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    device = tmp_path / "ttyRefused"
    device.touch()
    with immutable(device):
        with pytest.raises(OSError) as refused:
            os.open(device, os.O_RDWR)
        assert is_policy_refusal(refused.value)
        caplog.set_level(logging.ERROR, "teleinforeader.sources.serialport")
        source = SerialSource(str(device), backoff_initial=0.02, backoff_max=0.05)
        with SourceThread(source, DecodingProtocol()):
            wait_for(lambda: source.counters()["failures"] >= 3)
            assert source.waiting == f"waiting for {device} (Operation not permitted)"
    errors = [record.getMessage() for record in caplog.records]
    assert len(errors) == 1  # once for the outage; the retries are only counted
    assert errors[0].startswith(f"opening {device} is not permitted: a device policy refuses it")
    assert "usermod" not in errors[0]
