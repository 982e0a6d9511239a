"""The installer reads the frame count from the daemon's own STATUS= line."""

from __future__ import annotations

from teleinforeader.daemon import Daemon
from teleinforeader.install.finishing import frames_in_status
from tests.daemon.daemon_helpers import MemorySource


class Waiting(MemorySource):
    @property
    def waiting(self) -> str | None:
        return "waiting for /dev/serial0 (No such file or directory)"


def test_the_frame_count_is_found_in_the_status_line_waiting_or_not() -> None:
    assert frames_in_status(Daemon(MemorySource([]), []).status_line()) == 0
    assert frames_in_status(Daemon(Waiting([]), []).status_line()) == 0
    assert frames_in_status("1234 frames, 0 groups rejected") == 1234
    assert frames_in_status("starting") is None
