"""/healthz: is the reader doing its job? Frames arriving, and every sink alive.

For a monitoring system, which only reads the status code: 200 while the latest frame is
younger than `[source] silence_timeout` (the delay after which the source itself gives up on a
silent line and reopens it) and no sink's thread has died; 503 otherwise, with the reason in
one line of text.
"""

from __future__ import annotations

from collections.abc import Sequence

from teleinforeader.record import Record
from teleinforeader.sinks.base import SinkStatus
from teleinforeader.sinks.http.views import age_seconds
from teleinforeader.tic import Frame


class Health(Record):
    healthy: bool
    reason: str


def judge(
    latest: Frame | None, sinks: Sequence[tuple[str, SinkStatus]], silence_timeout: float
) -> Health:
    dead = [name for name, status in sinks if not status.alive]
    if dead:
        return Health(False, f"sink not alive: {', '.join(dead)}")
    age = None if latest is None else age_seconds(latest)
    if age is None:
        return Health(False, "no frame received yet")
    if age > silence_timeout:
        return Health(False, f"no frame for {age:.0f} s (the line is silent)")
    backlog = sum(status.backlog for _, status in sinks)
    return Health(True, f"ok: last frame {age:.1f} s ago, every sink alive, backlog {backlog}")
