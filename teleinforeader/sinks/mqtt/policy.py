"""When a state is published: every frame, at most every N seconds, or on change.

The decision is made on the pipeline thread for every frame, so it costs a clock reading and,
for "on_change" once the interval has passed, one comparison of two frames' values; the
sink's thread is woken only for a frame that is due. A Home Assistant recorder stores every
state it gets: "on_change" (the default) publishes when something changed, no more often than
every `interval` seconds, and at least every `heartbeat` seconds, so a quiet meter still shows
it is alive.
"""

from __future__ import annotations

import math

from teleinforeader.tic import Frame

EVERY_FRAME, INTERVAL, ON_CHANGE = "every_frame", "interval", "on_change"
POLICIES = (EVERY_FRAME, INTERVAL, ON_CHANGE)


class PublishPolicy:
    def __init__(self, policy: str, interval: float, heartbeat: float) -> None:
        if policy not in POLICIES:
            raise ValueError(f"publish must be one of {', '.join(POLICIES)}, not {policy!r}")
        self.policy = policy
        self.interval = interval
        self.heartbeat = heartbeat
        self._last_at = -math.inf
        self._last: Frame | None = None

    @property
    def patience(self) -> float:
        """How long a frame may wait before it reaches the policy, for the reader's rest."""
        return 0.0 if self.policy == EVERY_FRAME else self.interval

    def reset(self) -> None:
        """Another meter: its first frame is due at once."""
        self._last_at, self._last = -math.inf, None

    def due(self, frame: Frame, now: float) -> bool:
        """Is a state due for `frame`, seen at monotonic time `now`? (It is then counted as
        published: the next one is measured from now.)"""
        policy = self.policy
        if policy != EVERY_FRAME:
            elapsed = now - self._last_at
            if elapsed < self.interval:
                return False
            if (
                policy == ON_CHANGE
                and elapsed < self.heartbeat
                and self._last is not None
                and frame.same_values(self._last)
            ):
                return False
        self._last_at, self._last = now, frame
        return True
