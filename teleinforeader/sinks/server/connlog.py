"""Connection events in the log, bounded: a client connecting in a loop must not flood the journal.

The first `burst` events of a window are logged one by one (what an admin wants to see when a
client comes or goes); the rest are only counted, and one summary line at the end of the window
says how many of each kind were not logged. The server thread calls `flush` after each round and
waits at most until `due()`, so the summary comes even if the churn stops.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

log = logging.getLogger(__name__)

LOG_INTERVAL = 60.0  # seconds: the window
LOG_BURST = 10  # lines logged one by one per window, over every kind of event


class ConnectionLog:
    """Log lines about clients, at most `burst` a window plus one summary line."""

    def __init__(
        self,
        interval: float = LOG_INTERVAL,
        burst: int = LOG_BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self.burst = burst
        self._clock = clock
        self._window_start = clock() - interval
        self._logged = 0
        self._unlogged: dict[str, int] = {}
        self._level = logging.INFO

    def event(self, kind: str, level: int, message: str, *args: object) -> None:
        """One connection event: logged, or counted under `kind` for the summary."""
        now = self._clock()
        self.flush()
        if now - self._window_start >= self.interval:
            self._window_start = now
            self._logged = 0
        if self._logged < self.burst:
            self._logged += 1
            log.log(level, message, *args)
            return
        self._unlogged[kind] = self._unlogged.get(kind, 0) + 1
        self._level = max(self._level, level)

    def due(self) -> float | None:
        """When the summary line is due (clock time), or None if there is nothing to say."""
        return self._window_start + self.interval if self._unlogged else None

    def flush(self, force: bool = False) -> None:
        """Write the summary line if the window is over (or at once when `force`)."""
        due = self.due()
        if due is None or (not force and self._clock() < due):
            return
        counts = ", ".join(f"{count} {kind}" for kind, count in self._unlogged.items())
        log.log(
            self._level,
            "%s in the last %.0f s, not logged one by one",
            counts,
            self.interval,
        )
        self._unlogged = {}
        self._level = logging.INFO
