"""Waiting for a condition in tests: poll with a generous deadline instead of sleeping."""

from __future__ import annotations

import time
from typing import Callable


def wait_for(
    condition: Callable[[], object], timeout: float = 10.0, what: str = "", interval: float = 0.01
) -> None:
    """Poll `condition` every `interval` seconds until true; fail after `timeout` seconds,
    saying what was awaited."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what or condition}")
        time.sleep(interval)
