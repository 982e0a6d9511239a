"""The sd_notify client against real AF_UNIX datagram sockets, and without any."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from teleinforeader.notify import Notifier
from tests.daemon.daemon_helpers import NotifySocket


def test_messages_arrive_as_one_datagram_each(tmp_path: Path) -> None:
    manager = NotifySocket(tmp_path / "notify")
    try:
        notifier = Notifier(manager.environ())
        assert notifier.enabled
        notifier.ready("starting")
        notifier.watchdog("12 frames")
        notifier.stopping("bye")
        assert manager.receive_until("READY") == {"READY": "1", "STATUS": "starting"}
        assert manager.receive_until("WATCHDOG") == {"WATCHDOG": "1", "STATUS": "12 frames"}
        assert manager.receive_until("STOPPING") == {"STOPPING": "1", "STATUS": "bye"}
        notifier.close()
    finally:
        manager.close()


def test_an_abstract_socket_name_starting_with_at_is_reached() -> None:
    name = f"teleinforeader-test-{uuid.uuid4().hex}"
    manager = NotifySocket("\0" + name)
    try:
        Notifier({"NOTIFY_SOCKET": "@" + name}).status("abstract")
        assert manager.receive_until("STATUS") == {"STATUS": "abstract"}
    finally:
        manager.close()


def test_without_notify_socket_everything_is_a_no_op() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert notifier.watchdog_interval is None
    notifier.ready("nobody listens")
    notifier.close()


@pytest.mark.parametrize(
    ("environ", "interval"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),  # for another process
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_the_watchdog_pings_at_half_the_interval_systemd_gives(
    environ: dict[str, str], interval: float | None
) -> None:
    assert Notifier(environ).watchdog_interval == interval


def test_a_vanished_manager_is_logged_once_and_never_raises(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    for _ in range(3):
        notifier.watchdog("still here")
    warnings = [r for r in caplog.records if "cannot notify" in r.getMessage()]
    assert len(warnings) == 1
